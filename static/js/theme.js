// The colour theme: "light" or "dark" forced by data-theme on <html>, else the system's.
// Loaded as a plain (not deferred) script in <head>, so the stored choice is on <html> before
// the body is drawn: no flash of the other theme. Any <select data-theme-select> on the page
// shows and changes the choice ("system", "light", "dark"), remembered in localStorage.
(() => {
  const KEY = "callkit.theme";
  const root = document.documentElement;

  const stored = () => {
    try {
      const value = localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch {
      return "system"; // storage blocked: follow the system
    }
  };

  const apply = (choice) => {
    if (choice === "light" || choice === "dark") root.dataset.theme = choice;
    else delete root.dataset.theme;
  };

  const remember = (choice) => {
    try {
      if (choice === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      /* storage blocked: the choice lasts for this page only */
    }
  };

  // Only a stored choice changes the page: a data-theme the server wrote stays otherwise.
  if (stored() !== "system") apply(stored());

  document.addEventListener("change", (event) => {
    if (!event.target.matches?.("[data-theme-select]")) return;
    const choice = event.target.value;
    apply(choice);
    remember(choice);
    for (const select of document.querySelectorAll("[data-theme-select]")) select.value = choice;
  });

  // Another tab changed the theme: follow it.
  window.addEventListener("storage", (event) => {
    if (event.key !== KEY && event.key !== null) return;
    apply(stored());
    for (const select of document.querySelectorAll("[data-theme-select]")) select.value = stored();
  });

  // The control does nothing without this script, so it stays hidden until the script runs.
  document.addEventListener("DOMContentLoaded", () => {
    for (const select of document.querySelectorAll("[data-theme-select]")) {
      select.value = stored();
      select.closest(".theme")?.removeAttribute("hidden");
    }
  });
})();
