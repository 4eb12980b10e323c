// The review queue: pending outgoing changes, refreshed every 2 s; approve or reject one or
// many through the API. Selections survive refreshes.
const config = JSON.parse(document.getElementById("page-config").textContent);
const csrfToken = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
const body = document.querySelector("#changes tbody");
const escape = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const show = (value) => (value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : value);
const selected = new Set();

function row(change) {
  const fields = Object.entries(change.changes || {})
    .map(([name, diff]) => `<li><strong>${escape(name)}</strong>: <span class="before">${escape(show(diff.before))}</span> → ${escape(show(diff.after))}</li>`)
    .join("");
  const checked = selected.has(change.id) ? "checked" : "";
  const what = `${change.operation} ${change.target_entity} ${change.target_label || change.target_id}`;
  // A row's checkbox is named by the change it picks (aria-label): a visible "Select" in
  // every row would say less than the row itself.
  return `<tr data-id="${change.id}">
    <td class="pick-cell"><input type="checkbox" class="pick" value="${change.id}" ${checked} aria-label="Select: ${escape(what)}"></td>
    <td data-label="When">${escape(new Date(change.created_at).toLocaleString())}</td>
    <td data-label="Sync">${escape(change.owner)}</td>
    <td data-label="What">${escape(what)}</td>
    <td data-label="Changes"><ul>${fields}</ul></td>
    <td><div class="actions"><button type="button" class="approve-one" data-id="${change.id}">Approve</button><button type="button" class="reject reject-one danger" data-id="${change.id}">Reject</button></div></td>
  </tr>`;
}

async function refresh() {
  const response = await fetch(`${config.listUrl}?status=pending&page_size=200`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const page = await response.json();
  const changes = page.results || page;
  const ids = new Set(changes.map((c) => c.id));
  for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
  body.innerHTML = changes.map(row).join("");
  document.getElementById("empty").hidden = changes.length > 0;
}

async function decide(verb, ids) {
  if (!ids.length) return;
  const response = await fetch(`${config.listUrl}/${verb}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
    body: JSON.stringify({ ids, note: document.getElementById("note").value }),
  });
  const answer = await response.json();
  const outcome = document.getElementById("outcome");
  if (response.ok) {
    const word = verb === "approve" ? "Approved" : "Rejected";
    outcome.textContent = `${word} ${answer.decided.length}` + (answer.skipped.length ? `; ${answer.skipped.length} already decided.` : ".");
    ids.forEach((id) => selected.delete(id));
  } else {
    outcome.textContent = (answer.error && answer.error.message) || `The hub answered ${response.status}.`;
  }
  outcome.dataset.state = response.ok ? "done" : "refused";
  await refresh();
}

body.addEventListener("change", (event) => {
  if (!event.target.classList.contains("pick")) return;
  const id = Number(event.target.value);
  if (event.target.checked) selected.add(id); else selected.delete(id);
});
body.addEventListener("click", (event) => {
  const id = Number(event.target.dataset.id);
  if (event.target.classList.contains("approve-one")) decide("approve", [id]);
  if (event.target.classList.contains("reject-one")) decide("reject", [id]);
});
document.getElementById("select-all").addEventListener("change", (event) => {
  body.querySelectorAll(".pick").forEach((box) => {
    box.checked = event.target.checked;
    if (box.checked) selected.add(Number(box.value)); else selected.delete(Number(box.value));
  });
});
document.getElementById("approve-selected").addEventListener("click", () => decide("approve", [...selected]));
document.getElementById("reject-selected").addEventListener("click", () => decide("reject", [...selected]));

refresh();
setInterval(refresh, config.pollMs);
