// The right rail: its tabs (ARIA tabs pattern), the drawer it becomes on a narrow screen
// (a tablet), the participants' list behind the faces in the header, colour swatches.

/** Make the rail's tabs work; returns `select(panelId)` to show a panel from elsewhere. */
export function enhanceTabs(rail) {
  const list = rail && rail.querySelector('[role="tablist"]');
  const tabs = rail ? [...rail.querySelectorAll('[role="tab"]')] : [];
  if (!list || !tabs.length) return { select() {} };
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
  return {
    select(panelId) {
      const tab = tabs.find((candidate) => candidate.getAttribute("aria-controls") === panelId);
      if (tab && tab.getAttribute("aria-selected") !== "true") select(tab, false);
    },
  };
}

/**
 * On a narrow screen the rail is a drawer over the text, opened by `toggle` and closed by
 * `close`, by Escape or by the toggle again; on a wide one it is always there. Returns
 * `open()`, which opens the drawer if there is one.
 */
export function railDrawer({ workspace, rail, toggle, close }) {
  if (!workspace || !rail || !toggle || !close) return { open() {} };
  const narrow = window.matchMedia("(max-width: 60rem)");
  workspace.classList.add("has-drawer");
  toggle.hidden = false;
  close.hidden = false;
  const isOpen = () => rail.classList.contains("is-open");
  const setOpen = (open, { focus = false } = {}) => {
    rail.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (!focus) return;
    if (open) (rail.querySelector('[role="tab"][aria-selected="true"]') || close).focus();
    else toggle.focus();
  };
  toggle.addEventListener("click", () => setOpen(!isOpen(), { focus: true }));
  close.addEventListener("click", () => setOpen(false, { focus: true }));
  rail.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && narrow.matches && isOpen() && !event.defaultPrevented) {
      setOpen(false, { focus: true });
    }
  });
  narrow.addEventListener("change", () => { if (!narrow.matches) setOpen(false); });
  return {
    open() { if (narrow.matches && !isOpen()) setOpen(true); },
  };
}

/**
 * The participants' list is a disclosure (<details>) in the header: it also opens from the
 * faces of those present, and closes with Escape or a click elsewhere.
 */
export function peopleMenu(details, faces) {
  if (!details) return;
  const summary = details.querySelector("summary");
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && details.open) {
      details.open = false;
      summary.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (details.open && event.target instanceof Node && !details.contains(event.target) &&
      !(faces && faces.contains(event.target))) details.open = false;
  });
  if (faces) faces.addEventListener("click", () => { details.open = !details.open; });
}

export function paintSwatches(root) {
  for (const swatch of root.querySelectorAll(".swatch[data-colour]")) {
    swatch.style.backgroundColor = swatch.dataset.colour;
  }
}
