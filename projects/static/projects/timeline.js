// The timeline page: Smartsheet connect/disconnect (the platform's popup module) and the two
// sync buttons, which start a run through the API and follow it to its summary.
import { connectProvider, disconnectProvider } from "/static/integrations/oauth-popup.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const csrfToken = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
const box = document.getElementById("smartsheet");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

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
const runBox = document.getElementById("run");
const buttons = document.querySelectorAll("button.sync");

function show(run) {
  runBox.hidden = false;
  document.getElementById("run-progress").value = run.percent;
  document.getElementById("run-stage").textContent =
    run.status === "queued"
      ? "Waiting for a worker…"
      : run.status === "running"
        ? `${run.stage || "Starting…"} ${run.progress_done}/${run.progress_total || "?"}`
        : "";
  const finished = !["queued", "running"].includes(run.status);
  const summary = document.getElementById("run-summary");
  summary.textContent = finished ? `${run.status === "succeeded" ? "Done" : run.status === "partial" ? "Done, with failures" : "Failed"}: ${run.message}` : "";
  summary.dataset.status = run.status;
  document.getElementById("run-errors").innerHTML = (run.errors || [])
    .map((error) => `<li>${escape(error.item)}: ${escape(error.message)}</li>`)
    .join("");
  return finished;
}

async function follow(runId) {
  buttons.forEach((button) => { button.disabled = true; });
  try {
    for (;;) {
      const response = await fetch(`/api/projects/${config.project}/smartsheet/runs/${runId}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok && show(await response.json())) break;
      await sleep(500); // progress is written several times a second: ≤ 1 s behind
    }
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

for (const button of buttons) {
  button.addEventListener("click", async () => {
    const response = await fetch(`/api/projects/${config.project}/smartsheet/sync`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, "X-Hub-Trigger": "button", Accept: "application/json" },
      body: JSON.stringify({ direction: button.dataset.direction }),
    });
    const body = await response.json();
    if (response.status === 202) {
      show(body);
      await follow(body.id);
    } else if (body.error && body.error.code === "run_in_progress" && body.error.details.run) {
      await follow(body.error.details.run); // someone already started one: follow it instead
    } else {
      runBox.hidden = false;
      const summary = document.getElementById("run-summary");
      summary.textContent = (body.error && body.error.message) || `The hub answered ${response.status}.`;
      summary.dataset.status = "refused";
    }
  });
}
