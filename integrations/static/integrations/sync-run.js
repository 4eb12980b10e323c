// A sync button's run, shared by every page that starts one: start it, then poll the run
// every 500 ms (progress is written several times a second, so the bar is ≤ 1 s behind) and
// show its stage, a retry note while the provider is failing, its summary and the items that
// failed. The page supplies the markup: #run with #run-progress, #run-stage, #run-summary and
// #run-errors inside (#run-note and the "start it after" button are added when missing).
//
// A scope runs one run at a time. Given `activeUrl` (the scope's active runs, 0 or 1, as a
// list or an API page), a start first asks whether one is going, so the page never provokes the API's 409 (which
// the browser would log as a console error); without it, a 409 `run_in_progress` is handled
// the same way. Either way the page says which run is in the way and who started it, follows
// its progress without calling it ours, and offers to start the requested run once it ends.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const LABELS = { succeeded: "Done", partial: "Done, with failures" };
const ACTIVE = ["queued", "running"];
const JSON_HEADERS = { Accept: "application/json" };

function part(id, tag, after) {
  let element = document.getElementById(id);
  if (!element) {
    element = document.createElement(tag);
    element.id = id;
    document.getElementById(after).after(element);
  }
  return element;
}

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
// "Sync to Smartsheet, started by ana@example.com": which run, and whose.
const who = (run, describe) =>
  [(describe || ((r) => r.direction_label || ""))(run), run.started_by && `started by ${run.started_by}`]
    .filter(Boolean)
    .join(", ");

function stageText(run) {
  if (run.status === "queued") return "Waiting for a worker…";
  if (run.status !== "running") return "";
  const count = run.stage_total
    ? `${run.stage_done}/${run.stage_total}`
    : run.progress_total
      ? `${run.progress_done}/${run.progress_total}`
      : "";
  return `${run.stage || "Starting…"} ${count}`.trim();
}

function retryText(run) {
  if (!ACTIVE.includes(run.status) || !run.retry_reason) return "";
  return `The provider is not answering: retrying (${run.retry_reason}), next attempt in ${Math.ceil(run.retry_in || 0)} s.`;
}

// Show a run. `intro(run)`, while the run is active, is the summary line for a run this page
// did not start; `prefix` goes before its outcome; `quiet` leaves the outcome to the caller;
// `links(run)` gives links ({href, text}) to put after the outcome.
export function showRun(run, { intro, prefix = "", quiet = false, links } = {}) {
  document.getElementById("run").hidden = false;
  document.getElementById("run-progress").value = run.percent;
  document.getElementById("run-stage").textContent = stageText(run);
  part("run-note", "p", "run-stage").textContent = retryText(run);
  const finished = !ACTIVE.includes(run.status);
  const summary = document.getElementById("run-summary");
  if (!finished) {
    summary.textContent = intro ? intro(run) : "";
    summary.dataset.status = intro ? "busy" : run.status;
  } else if (!quiet) {
    summary.textContent = `${prefix}${LABELS[run.status] || "Failed"}: ${run.message}`;
    for (const [index, link] of ((links && links(run)) || []).entries()) {
      const anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.textContent = link.text;
      summary.append(index ? " · " : " — ", anchor);
    }
    summary.dataset.status = run.status;
  }
  if (!quiet) {
    document.getElementById("run-errors").innerHTML = (run.errors || [])
      .map((error) => `<li>${escape(error.item)}: ${escape(error.message)}</li>`)
      .join("");
  }
  return finished;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: JSON_HEADERS });
  return response.ok ? response.json() : null;
}

// Poll a run until it ends, the buttons disabled meanwhile (a button marked
// data-unavailable, for want of a connection say, stays disabled); returns the finished run.
async function follow(runUrl, options) {
  const buttons = options.buttons || [];
  buttons.forEach((button) => { button.disabled = true; });
  try {
    for (;;) {
      const run = await getJson(runUrl);
      if (run && showRun(run, options)) {
        if (options.onFinish) options.onFinish(run);
        return run;
      }
      await sleep(500);
    }
  } finally {
    buttons.forEach((button) => { button.disabled = "unavailable" in button.dataset; });
  }
}

// Follow a run found going when the page loaded (a reload, another tab, another person).
export async function followRun(run, options) {
  const named = who(run, options.describe);
  const intro = () => `In progress${named ? `: ${named}` : ""}.`;
  showRun(run, { intro });
  return follow(options.runUrl(run.id), { ...options, intro, prefix: named ? `${capital(named)} — ` : "" });
}

// Another run is in the way: say which and whose, follow it, and start ours after it only if
// asked to (the "Start … when it finishes" button).
async function waitBehind(run, options) {
  const requested = options.requested || "this run";
  const after = part("run-after", "button", "run-summary");
  after.type = "button";
  after.hidden = false;
  after.disabled = false;
  after.textContent = `Start ${requested} when it finishes`;
  let queued = false;
  after.onclick = () => {
    queued = true;
    after.disabled = true;
    after.textContent = `${requested} starts when the other run finishes…`;
  };
  const named = who(run, options.describe);
  const intro = (r) => {
    const stage = stageText(r);
    return `Another run is in progress${named ? ` (${named})` : ""}${stage ? `: ${stage}` : ""}. ${capital(requested)} has not started.`;
  };
  showRun(run, { intro, quiet: true });
  const finished = await follow(options.runUrl(run.id), { ...options, intro, quiet: true });
  after.hidden = true;
  if (queued) return startRun(options);
  const summary = document.getElementById("run-summary");
  const outcome = (LABELS[finished.status] || "failed").toLowerCase();
  summary.textContent = `The other run${named ? ` (${named})` : ""} has ended (${outcome}). ${capital(requested)} did not run: press its button to start it.`;
  summary.dataset.status = "other-ended";
  return finished;
}

// Start a run and follow it to its end; if one is already going, say so and offer to start
// this one after it. Options: startUrl, runUrl(id), body, csrfToken, buttons; optional
// activeUrl, describe(run), requested (what the button starts, "Sync from Smartsheet"),
// links(run) and onFinish(run).
export async function startRun(options) {
  const { startUrl, runUrl, activeUrl, body, csrfToken } = options;
  document.getElementById("run-after")?.setAttribute("hidden", "");
  if (activeUrl) {
    const answer = await getJson(activeUrl); // a list, or a page of one ({results: [...]})
    const active = Array.isArray(answer) ? answer : (answer && answer.results) || [];
    if (active.length) return waitBehind(active[0], options);
  }
  const response = await fetch(startUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, "X-Hub-Trigger": "button", ...JSON_HEADERS },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    showRun(answer, options);
    return follow(runUrl(answer.id), options);
  }
  const error = answer.error || {};
  if (error.code === "run_in_progress" && error.details && error.details.run) {
    const running = (await getJson(runUrl(error.details.run))) || { id: error.details.run, ...error.details, status: "running" };
    return waitBehind(running, options);
  }
  document.getElementById("run").hidden = false;
  const summary = document.getElementById("run-summary");
  summary.textContent = error.message || `The hub answered ${response.status}.`;
  summary.dataset.status = "refused";
  return null;
}
