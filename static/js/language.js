// The language switcher changes language as soon as a language is picked, and comes back to
// the page shown now (htmx navigation may have moved on since the header was rendered).
// Without JavaScript its "Change" button submits the same form.
document.addEventListener("change", (event) => {
  const form = event.target.closest?.("[data-language-form]");
  if (!form || event.target.name !== "language") return;
  form.elements.next.value = location.pathname + location.search;
  form.requestSubmit();
});
for (const button of document.querySelectorAll("[data-language-submit]")) button.hidden = true;
