// The timeline page: Smartsheet connect/disconnect (the platform's popup module) and the two
// sync buttons, which start a run through the API and follow it to its summary.
import { connectProvider, disconnectProvider, progressText } from "/static/integrations/oauth-popup.js";
import { followRun, startRun } from "/static/integrations/sync-run.js";

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
    onProgress: (stage) => { if (status) status.textContent = progressText(stage, config.pollSeconds); },
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
// A run going on when the page loads (a reload, another tab) is followed with the buttons
// disabled; a press while one is going says which and whose, and offers to start the pressed
// one after it. The page asks for the active run first, so it never provokes a 409.
const NAMES = { outbound: "Sync to Smartsheet", inbound: "Sync from Smartsheet" };
const buttons = document.querySelectorAll("button.sync");
const runs = `/api/projects/${config.project}/smartsheet/runs`;

// What a run changed is on the server-rendered parts of the page: fetch the page again and
// swap them in, so an amount edited in Smartsheet shows once Sync from Smartsheet is done.
async function refreshParts(run) {
  if (!run.created && !run.updated && !run.unmapped) return;
  const response = await fetch(config.pageUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of ["entries", "unmapped-notice", "recent-runs"]) {
    const part = fresh.getElementById(id);
    if (part) document.getElementById(id)?.replaceWith(part);
  }
}

const options = {
  runUrl: (id) => `${runs}/${id}`,
  activeUrl: `${runs}?active=true`,
  startUrl: `/api/projects/${config.project}/smartsheet/sync`,
  csrfToken,
  buttons,
  describe: (run) => NAMES[run.direction] || run.direction_label || "",
  links: (run) => [
    ...(run.direction === "inbound" && run.unmapped
      ? [{ href: config.unmappedUrl, text: `review the ${run.unmapped} unmapped row${run.unmapped === 1 ? "" : "s"}` }]
      : []),
    // Writes held under "requires approval" wait in the review queue.
    ...(run.held ? [{ href: config.reviewUrl, text: `review the ${run.held} held change${run.held === 1 ? "" : "s"}` }] : []),
  ],
  onFinish: refreshParts,
};

for (const button of buttons) {
  button.addEventListener("click", () =>
    startRun({ ...options, body: { direction: button.dataset.direction }, requested: NAMES[button.dataset.direction] }),
  );
}
if (config.activeRun && buttons.length) followRun(config.activeRun, options);
