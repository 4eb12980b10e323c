// TimeTracker pages: the open shift's running time and the job search (dashboard), and
// "Sync jobs now" (jobs page).
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

// The punch-in job picker: the search box keeps only the jobs whose IM number, contractor or
// scope contain every word typed, and picks the first of them, so typing an IM number is
// enough. The options are taken out rather than hidden (Safari shows hidden options).
const jobSearch = document.getElementById("job-search");
if (jobSearch) {
  const select = document.getElementById("job");
  const [placeholder, ...options] = select.options;
  const jobs = options.map((option) => ({ option, text: option.dataset.search.toLowerCase() }));
  const matches = document.getElementById("job-matches");
  const filter = () => {
    const words = jobSearch.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = jobs.filter((job) => words.every((word) => job.text.includes(word)));
    const chosen = select.value;
    select.replaceChildren(placeholder, ...shown.map((job) => job.option));
    if (shown.some((job) => job.option.value === chosen)) select.value = chosen;
    else select.value = words.length && shown.length ? shown[0].option.value : "";
    matches.textContent = !words.length
      ? ""
      : shown.length
        ? `${shown.length} of ${jobs.length} jobs match.`
        : "No job matches.";
  };
  jobSearch.addEventListener("input", filter);
  // Enter in the search box moves on to the list instead of punching in to the first match.
  jobSearch.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    select.focus();
  });
  document.getElementById("job-search-field").hidden = false;
}

const syncButton = document.getElementById("sync-jobs");
if (syncButton) {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const csrfToken = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
  syncButton.addEventListener("click", () => {
    // The previous import's line would stand beside this run's progress and summary.
    document.getElementById("last-run")?.remove();
    return startRun({
      startUrl: "/api/timetracker/process-approved-jobs",
      activeUrl: `/api/timetracker/runs?workspace=${config.workspace}&active=true`,
      runUrl: (id) => `/api/timetracker/runs/${id}`,
      body: { workspace: config.workspace },
      csrfToken,
      buttons: [syncButton],
    });
  });
}
