// A sync button's run, shared by every page that starts one: POST to start it, then poll the
// run every 500 ms (progress is written several times a second, so the bar is ≤ 1 s behind)
// and show its stage, its summary and the items that failed. The page supplies the markup:
// #run with #run-progress, #run-stage, #run-summary and #run-errors inside.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const LABELS = { succeeded: "Done", partial: "Done, with failures" };

export function showRun(run) {
  document.getElementById("run").hidden = false;
  document.getElementById("run-progress").value = run.percent;
  document.getElementById("run-stage").textContent =
    run.status === "queued"
      ? "Waiting for a worker…"
      : run.status === "running"
        ? `${run.stage || "Starting…"} ${run.progress_done}/${run.progress_total || "?"}`
        : "";
  const finished = !["queued", "running"].includes(run.status);
  const summary = document.getElementById("run-summary");
  summary.textContent = finished ? `${LABELS[run.status] || "Failed"}: ${run.message}` : "";
  summary.dataset.status = run.status;
  document.getElementById("run-errors").innerHTML = (run.errors || [])
    .map((error) => `<li>${escape(error.item)}: ${escape(error.message)}</li>`)
    .join("");
  return finished;
}

async function follow(runUrl, buttons) {
  buttons.forEach((button) => { button.disabled = true; });
  try {
    for (;;) {
      const response = await fetch(runUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok && showRun(await response.json())) break;
      await sleep(500);
    }
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

// Start a run (or, if one is already going, follow that one instead) and follow it to its end.
export async function startRun({ startUrl, runUrl, body, csrfToken, buttons }) {
  const response = await fetch(startUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, "X-Hub-Trigger": "button", Accept: "application/json" },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json();
  if (response.status === 202) {
    showRun(answer);
    await follow(runUrl(answer.id), buttons);
  } else if (answer.error && answer.error.code === "run_in_progress" && answer.error.details.run) {
    await follow(runUrl(answer.error.details.run), buttons);
  } else {
    document.getElementById("run").hidden = false;
    const summary = document.getElementById("run-summary");
    summary.textContent = (answer.error && answer.error.message) || `The hub answered ${response.status}.`;
    summary.dataset.status = "refused";
  }
}
