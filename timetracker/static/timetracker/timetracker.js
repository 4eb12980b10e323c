// TimeTracker pages: the open shift's running time (dashboard) and "Sync jobs now" (jobs page).
import { startRun } from "/static/integrations/sync-run.js";

const running = document.getElementById("running-time");
if (running) {
  const since = new Date(running.dataset.since);
  const tick = () => {
    const seconds = Math.max(0, Math.floor((Date.now() - since.getTime()) / 1000));
    const pad = (n) => String(n).padStart(2, "0");
    running.textContent = `${Math.floor(seconds / 3600)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
  };
  tick();
  setInterval(tick, 1000);
}

const syncButton = document.getElementById("sync-jobs");
if (syncButton) {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const csrfToken = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
  syncButton.addEventListener("click", () =>
    startRun({
      startUrl: "/api/timetracker/process-approved-jobs",
      runUrl: (id) => `/api/timetracker/runs/${id}`,
      body: { workspace: config.workspace },
      csrfToken,
      buttons: [syncButton],
    }),
  );
}
