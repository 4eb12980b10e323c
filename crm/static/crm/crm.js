// The CRM pages' behaviour: follow the runs going and show their progress within a second
// (a settings card also notices a run started elsewhere: another tab, the schedule), reload
// the page once they end so that it shows what they did; and Connect, through the platform's
// sign-in popup (integrations/static/integrations/oauth-popup.js), then the config linked by
// the form's own POST (the settings page and the connect wizard); the wizard's time of day shown
// for a daily sync only; and on a conflict, typing a merged value chooses it.
import { connectProvider, progressText } from "/static/integrations/oauth-popup.js";

const ACTIVE = ["queued", "running"];
const BUSY_MS = 1000; // while a run is going
const IDLE_MS = 2000; // a card waiting for a run to appear
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.ok ? response.json() : null;
  } catch (error) {
    return null; // a failed poll is not an answer: the next one asks again
  }
}

const stageText = (log) =>
  log.status === "queued" ? "Waiting for a worker…" : `${log.stage || "Starting…"} (${log.percent}%)`;

// One run's element (a card's row, a run page's bar, a history row): its status, bar and stage.
function show(element, log) {
  element.dataset.status = log.status;
  const bar = element.querySelector("progress");
  if (bar) bar.value = log.percent;
  const stage = element.querySelector(".run-stage");
  if (stage) stage.textContent = stageText(log);
}

function runRow(card, log) {
  let row = card.querySelector(`.run[data-run="${log.id}"]`);
  if (!row) {
    row = document.createElement("div");
    row.className = "run";
    row.dataset.run = log.id;
    const entity = document.createElement("span");
    entity.className = "run-entity";
    entity.textContent = log.entityType === "account" ? "Accounts" : "Contacts";
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.setAttribute("aria-label", `Progress of the ${log.entityType} sync`);
    const stage = document.createElement("span");
    stage.className = "run-stage muted";
    row.append(entity, bar, stage);
    card.querySelector(".runs").append(row);
  }
  return row;
}

// A settings card: its config's newest runs, polled; a run going shows in the card (Sync now
// disabled meanwhile) and, once none is going, the page reloads with the new "last synced".
async function followCard(card) {
  let seen = card.querySelectorAll('.run[data-status="queued"], .run[data-status="running"]').length > 0;
  for (;;) {
    const answer = await getJson(card.dataset.logsUrl);
    const going = ((answer && answer.logs) || []).filter((log) => ACTIVE.includes(log.status));
    for (const log of going) show(runRow(card, log), log);
    if (answer && seen && !going.length) {
      window.location.reload();
      return;
    }
    if (going.length) {
      seen = true;
      card.dataset.running = "1";
      const button = card.querySelector(".sync-now");
      if (button) button.disabled = true;
    }
    await sleep(seen ? BUSY_MS : IDLE_MS);
  }
}

// A run's own page, or a history row: polled while it goes, the page reloaded when it ends.
async function followRun(element) {
  for (;;) {
    const answer = await getJson(`/api/crm/sync/logs/${element.dataset.run}`);
    if (answer && answer.log) {
      show(element, answer.log);
      if (!ACTIVE.includes(answer.log.status)) {
        window.location.reload();
        return;
      }
    }
    await sleep(BUSY_MS);
  }
}

// A conflicts list: asked every second whether what it lists changed (a run found conflicts or
// settled some, someone resolved one elsewhere); if so the page reloads to show it.
async function followConflicts(element) {
  for (;;) {
    await sleep(BUSY_MS);
    const answer = await getJson(element.dataset.watchUrl);
    if (answer && answer.stamp !== element.dataset.stamp) {
      window.location.reload();
      return;
    }
  }
}

for (const card of document.querySelectorAll(".crm-card[data-logs-url]")) followCard(card);
const conflictsLive = document.getElementById("conflicts-live");
if (conflictsLive) followConflicts(conflictsLive);
for (const element of document.querySelectorAll("[data-run]:not(.crm-card [data-run])")) {
  if (ACTIVE.includes(element.dataset.status)) followRun(element);
}

const pageConfig = JSON.parse(document.getElementById("crm-page")?.textContent || "{}");
const csrfToken = () => document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
for (const form of document.querySelectorAll("form.connect-form")) {
  form.addEventListener("submit", async (event) => {
    if (form.dataset.ready === "1") return; // the workspace's connection works: link it now
    event.preventDefault();
    // The note beside this form (a wizard card has its own), else the page's.
    const note =
      form.parentElement.closest("article, section")?.querySelector(".connect-note") ||
      document.querySelector(".connect-note") ||
      form;
    note.classList.remove("error");
    const button = form.querySelector("button");
    button.disabled = true;
    const result = await connectProvider({
      provider: form.dataset.provider,
      workspace: pageConfig.workspace,
      domain: form.querySelector(".domain")?.value || "",
      startUrl: form.dataset.startUrl,
      statusUrl: form.dataset.statusUrl,
      allowedOrigin: pageConfig.allowedOrigin,
      csrfToken: csrfToken(),
      pollSeconds: pageConfig.pollSeconds,
      onProgress: (stage) => { note.textContent = progressText(stage, pageConfig.pollSeconds); },
    });
    if (result.status === "connected") {
      form.dataset.ready = "1";
      form.submit(); // links the config to the connection just made, and reloads the page
      return;
    }
    button.disabled = false;
    note.textContent = result.status === "not_connected" ? `Not connected: ${result.message}` : result.message || "Not connected.";
    note.classList.add("error");
  });
}

// Back to a page with a Connect form from the next step (the browser's back button may show it
// from its cache, as it was left): its buttons work again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const button of document.querySelectorAll("form.connect-form button")) button.disabled = false;
  for (const note of document.querySelectorAll(".connect-note.error")) {
    note.classList.remove("error");
    note.textContent = "";
  }
  for (const note of document.querySelectorAll(".connect-note")) {
    if (note.textContent.startsWith("Waiting")) note.textContent = "";
  }
});

// The wizard's settings step: the time of day only matters, and shows, for a daily sync.
const setupForm = document.getElementById("setup-form");
if (setupForm) {
  const dailyAt = setupForm.querySelector('[data-field="daily_at"]');
  const showDaily = () => {
    const daily = setupForm.querySelector('input[name="sync_frequency"]:checked')?.value === "daily";
    const problem = dailyAt.querySelector(".error");
    dailyAt.hidden = !daily && !problem;
  };
  setupForm.addEventListener("change", showDaily);
  showDaily();
}

// A conflict's split view: editing a field's merged value picks "Merged value" for that field.
for (const field of document.querySelectorAll(".conflict-field")) {
  const text = field.querySelector('.merged input[type="text"]');
  const merged = field.querySelector('.merged input[type="radio"]');
  if (text && merged) text.addEventListener("input", () => { merged.checked = true; });
}
