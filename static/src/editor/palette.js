// The presence palette (the same Okabe–Ito colours as declaration/realtime/presence.py).
// Marks use classes, not style attributes: the Content-Security-Policy forbids inline styles.

export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8F6F00", "#000000"];

export function colourClass(prefix, colour) {
  const index = PALETTE.findIndex((c) => c.toLowerCase() === String(colour).toLowerCase());
  return `${prefix}-${index >= 0 ? index : "x"}`;
}

/**
 * Black or white, whichever is more legible on `colour` ("#rrggbb"): the initials on the
 * faces in the header keep a contrast of at least 4.5:1 on every colour of the palette.
 */
export function textOn(colour) {
  const hex = String(colour).replace("#", "");
  if (!/^[0-9a-f]{6}$/i.test(hex)) return "#ffffff";
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
  return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? "#000000" : "#ffffff";
}
