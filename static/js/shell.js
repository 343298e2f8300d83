// The page shell: the settings menu (a native <details>, so it works without this script) closes
// on Escape and on a click elsewhere and tells screen readers whether it is open; the navigation
// marks the page shown after htmx navigation (the header is not swapped with #main).
for (const menu of document.querySelectorAll("[data-settings]")) {
  const summary = menu.querySelector("summary");
  const sync = () => summary.setAttribute("aria-expanded", String(menu.open));
  sync();
  menu.addEventListener("toggle", sync);
  menu.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !menu.open) return;
    menu.open = false;
    summary.focus();
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.addEventListener("focusout", (event) => {
    if (menu.open && event.relatedTarget && !menu.contains(event.relatedTarget)) menu.open = false;
  });
}

function markCurrentPage() {
  const nav = document.querySelector("[data-main-nav]");
  if (!nav) return;
  for (const link of nav.querySelectorAll("a")) {
    const path = new URL(link.href).pathname;
    const here = path === "/" ? location.pathname === "/" : location.pathname.startsWith(path);
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}
document.addEventListener("htmx:pushedIntoHistory", markCurrentPage);
document.addEventListener("htmx:historyRestore", markCurrentPage);
window.addEventListener("popstate", markCurrentPage);
