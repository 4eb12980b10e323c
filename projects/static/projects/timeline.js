// The timeline page: Smartsheet connect/disconnect (the platform's popup module) and the two
// sync buttons, which start a run through the API and follow it to its summary.
import { connectProvider, disconnectProvider } from "/static/integrations/oauth-popup.js";
import { startRun } from "/static/integrations/sync-run.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const csrfToken = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
const box = document.getElementById("smartsheet");

async function connect() {
  const status = box.querySelector(".status");
  const result = await connectProvider({
    provider: "smartsheet",
    workspace: config.workspace,
    startUrl: box.dataset.startUrl,
    statusUrl: box.dataset.statusUrl,
    allowedOrigin: config.allowedOrigin,
    csrfToken,
    pollSeconds: config.pollSeconds,
    onProgress: (stage) => { if (status) status.textContent = stage === "checking" ? "Checking…" : "Waiting for sign-in…"; },
  });
  if (result.status === "connected") {
    window.location.reload(); // authoring opens up, signed with this account
  } else if (status) {
    status.textContent = result.status === "not_connected" ? "Smartsheet: not connected" : `Smartsheet: ${result.message || result.status}`;
  }
}

box.querySelector(".connect")?.addEventListener("click", connect);
document.querySelector(".connect-prompt")?.addEventListener("click", connect);
box.querySelector(".disconnect")?.addEventListener("click", async () => {
  await disconnectProvider({ provider: "smartsheet", workspace: config.workspace, disconnectUrl: box.dataset.disconnectUrl, csrfToken });
  window.location.reload();
});

// --- sync runs ------------------------------------------------------------------------------
const buttons = document.querySelectorAll("button.sync");
for (const button of buttons) {
  button.addEventListener("click", () =>
    startRun({
      startUrl: `/api/projects/${config.project}/smartsheet/sync`,
      runUrl: (id) => `/api/projects/${config.project}/smartsheet/runs/${id}`,
      body: { direction: button.dataset.direction },
      csrfToken,
      buttons,
    }),
  );
}
