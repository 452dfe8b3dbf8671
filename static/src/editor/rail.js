// The right rail's tabs (ARIA tabs pattern) and the participants' colour swatches.

export function enhanceTabs(rail) {
  if (!rail) return;
  const list = rail.querySelector('[role="tablist"]');
  const tabs = [...rail.querySelectorAll('[role="tab"]')];
  if (!list || !tabs.length) return;
  const select = (tab, focus) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
  };
  list.hidden = false;
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
      if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
      if (event.key === "Home") next = tabs[0];
      if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) { event.preventDefault(); select(next, true); }
    });
  });
  select(tabs[0], false);
}

export function paintSwatches(root) {
  for (const swatch of root.querySelectorAll(".swatch[data-colour]")) {
    swatch.style.backgroundColor = swatch.dataset.colour;
  }
}
