// Connect a provider through a popup, and learn the outcome without ever guessing.
//
//   import { connectProvider } from "/static/integrations/oauth-popup.js";
//   const result = await connectProvider({ provider, workspace, startUrl, statusUrl,
//                                          allowedOrigin, csrfToken });
//   // result.status: "connected" | "denied" | "error" | "not_connected" | "blocked"
//
// The outcome comes from a postMessage only if event.source is the popup we opened and
// event.origin is the one allowed origin (the hub's). If the popup closes without such a
// message, the server is asked (statusUrl) for up to `pollSeconds` before "not_connected"
// is reported: a closed popup alone never means "cancelled". `progressText(stage, pollSeconds)`
// says in words what each stage reported through `onProgress` means, for every page alike.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const CLOSED_UNANSWERED = "the sign-in window was closed before the connection was made.";

export function progressText(stage, pollSeconds = 10) {
  return stage === "checking"
    ? `The sign-in window was closed; checking whether the connection was made… (up to ${pollSeconds} s)`
    : "Waiting for you to sign in, in the other window…";
}

async function postJson(url, body, csrfToken) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || `The hub answered ${response.status}.`;
    throw new Error(message);
  }
  return data;
}

export async function connectProvider({
  provider,
  workspace,
  domain = "",
  startUrl,
  statusUrl,
  allowedOrigin,
  csrfToken,
  pollSeconds = 10,
  pollEveryMs = 500,
  onProgress = () => {},
}) {
  // Opened synchronously inside the click, so popup blockers allow it; the provider's URL
  // is filled in once the hub has made the state.
  const popup = window.open("", `connect-${provider}`, "popup,width=620,height=760");
  if (!popup) {
    return { status: "blocked", message: "The browser blocked the sign-in window. Allow pop-ups for this site and try again." };
  }
  let started;
  try {
    started = await postJson(startUrl, { workspace, domain }, csrfToken);
  } catch (error) {
    popup.close();
    return { status: "error", message: error.message };
  }
  popup.location.href = started.authorize_url;
  const startedAt = Date.parse(started.started_at);
  onProgress("waiting");

  return new Promise((resolve) => {
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      window.removeEventListener("message", onMessage);
      clearInterval(watcher);
      resolve(result);
    };

    function onMessage(event) {
      if (event.source !== popup) return; // only the window we opened
      if (event.origin !== allowedOrigin) return; // and only once it is back on the hub
      const data = event.data;
      if (!data || data.provider !== provider || typeof data.status !== "string") return;
      finish({ status: data.status, email: data.email || "", org: data.org || "", message: data.message || "" });
    }
    window.addEventListener("message", onMessage);

    const watcher = setInterval(async () => {
      if (!popup.closed || settled) return;
      clearInterval(watcher);
      onProgress("checking");
      const deadline = Date.now() + pollSeconds * 1000;
      while (!settled && Date.now() < deadline) {
        try {
          const response = await fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
          if (response.ok) {
            const status = await response.json();
            // Only a connection made by this attempt counts, not one that existed before.
            if (status.connected && Date.parse(status.connected_at) >= startedAt) {
              finish({ status: "connected", email: status.email, org: status.org || "", message: "" });
              return;
            }
          }
        } catch (error) {
          // A failed poll is not an answer: keep asking until the deadline.
        }
        await sleep(pollEveryMs);
      }
      finish({ status: "not_connected", email: "", message: CLOSED_UNANSWERED });
    }, 200);
  });
}

export async function disconnectProvider({ provider, workspace, disconnectUrl, csrfToken }) {
  return postJson(disconnectUrl, { workspace }, csrfToken);
}
