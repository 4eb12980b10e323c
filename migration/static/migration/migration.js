// A migration run's page: while the run goes, ask its API every second (well within the 2 s
// the page promises) and move each project's stage bars and counts; once it has ended, reload
// so the page shows the summary, the report and the plan the server renders.
const ACTIVE = ["queued", "running"];
const POLL_MS = 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.ok ? response.json() : null;
  } catch (error) {
    return null; // a failed poll is not an answer: the next one asks again
  }
}

function show(root, run) {
  root.dataset.status = run.status;
  const bar = root.querySelector("#run-progress");
  if (bar) bar.value = run.percent;
  const stage = root.querySelector("#run-stage");
  if (stage) {
    stage.textContent =
      run.status === "queued"
        ? "Waiting for a worker…"
        : run.retry_reason
          ? `${run.stage} — the provider is not answering, retrying in ${Math.ceil(run.retry_in || 0)} s`
          : run.stage || "Starting…";
  }
  for (const [project, stages] of Object.entries(run.stages || {})) {
    const card = root.querySelector(`.mig-project[data-project="${CSS.escape(project)}"]`);
    if (!card) continue;
    for (const [name, cell] of Object.entries(stages)) {
      const item = card.querySelector(`li[data-stage="${name}"]`);
      if (!item) continue;
      item.dataset.state = cell.state;
      const progress = item.querySelector("progress");
      const full = ["done", "failed", "skipped"].includes(cell.state);
      progress.max = cell.total || 1;
      progress.value = full ? progress.max : Math.min(cell.done, cell.total || 0);
      item.querySelector(".count").textContent = cell.total ? `${cell.done}/${cell.total}` : cell.state === "waiting" ? "" : cell.state;
    }
  }
}

async function follow(root) {
  const url = root.dataset.url;
  for (;;) {
    const run = await getJson(url);
    if (run) {
      show(root, run);
      if (!ACTIVE.includes(run.status)) {
        window.location.reload();
        return;
      }
    }
    await sleep(POLL_MS);
  }
}

const root = document.getElementById("migration-run");
if (root && ACTIVE.includes(root.dataset.status)) follow(root);
