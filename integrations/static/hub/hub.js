// Behaviour every hub page shares. Loaded by templates/base.html.
//
// A button with data-confirm="question" asks that question first; dismissing it stops the
// click before the page's own handlers (or a form submit) see it. The listener sits on the
// document in the capture phase so that it runs ahead of any listener on the button itself,
// whichever script added that listener and whenever.
document.addEventListener(
  "click",
  (event) => {
    const button = event.target.closest?.("[data-confirm]");
    if (!button || button.disabled) return;
    if (window.confirm(button.dataset.confirm)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
  },
  true,
);
