// The presence palette (the same Okabe–Ito colours as declaration/realtime/presence.py).
// Marks use classes, not style attributes: the Content-Security-Policy forbids inline styles.

export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8F6F00", "#000000"];

export function colourClass(prefix, colour) {
  const index = PALETTE.findIndex((c) => c.toLowerCase() === String(colour).toLowerCase());
  return `${prefix}-${index >= 0 ? index : "x"}`;
}
