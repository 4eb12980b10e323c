// The field-mapping page: its dialogs (server-rendered, opened by ?add / ?edit=<id> or a form's
// errors) made modal; "+ Add mapping" opens its dialog without a page load; a search box filters
// the list below it; the transform picker shows the chosen transform's parameters only.

function openModal(dialog) {
  if (dialog.open) dialog.close(); // rendered open (works without scripts): reopen it modal
  dialog.showModal();
}

for (const dialog of document.querySelectorAll("dialog[data-open]")) openModal(dialog);

for (const link of document.querySelectorAll("[data-dialog]")) {
  link.addEventListener("click", (event) => {
    const dialog = document.getElementById(link.dataset.dialog);
    if (!dialog) return;
    event.preventDefault();
    openModal(dialog);
    dialog.querySelector(".list-search")?.focus();
  });
}

// Cancel closes the dialog where it is (the link's page load is the no-script way).
for (const cancel of document.querySelectorAll("dialog .close-dialog")) {
  cancel.addEventListener("click", (event) => {
    event.preventDefault();
    cancel.closest("dialog").close();
  });
}

// A search box: options whose text lacks every typed word are hidden; the chosen one stays.
for (const search of document.querySelectorAll(".list-search")) {
  const list = document.getElementById(search.dataset.list);
  if (!list) continue;
  search.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const option of list.options) {
      const text = `${option.value} ${option.textContent}`.toLowerCase();
      option.hidden = !(option.selected || words.every((word) => text.includes(word)));
    }
    // One match left: pick it, so Enter in the search box is enough.
    const visible = [...list.options].filter((option) => !option.hidden);
    if (visible.length === 1) visible[0].selected = true;
  });
}

// The transform picker: the chosen transform's parameters shown, the others hidden.
for (const picker of document.querySelectorAll(".transform-picker")) {
  const form = picker.closest("form");
  const show = () => {
    for (const params of form.querySelectorAll("fieldset.params")) {
      params.hidden = params.dataset.transform !== picker.value;
    }
  };
  picker.addEventListener("change", show);
  show();
}
