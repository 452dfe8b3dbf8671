// The comment threads as the panel lists them: their state, order and filters, the body's
// links, dates and quotes. No DOM here (tests/js/comments.test.mjs runs it in node).
//
// A thread is the server's dict (declaration/services/comments.py `_view`); `local` is what
// the editor knows on top of it: whether its passage vanished before the server said so.

import { codePointLength } from "../ot/operation.js";

/** The filters of the panel, in the order of their buttons. */
export const FILTERS = ["open", "resolved", "mine", "detached", "all"];

/**
 * Whether a thread is about a passage (not about the whole declaration).
 * @param {any} thread
 */
export function onPassage(thread) {
  return thread.quote !== null && thread.quote !== undefined;
}

/**
 * Whether a thread on a passage has lost its place, by the server or by edits since.
 * @param {any} thread
 * @param {{detached?: boolean} | undefined} local
 */
export function isDetached(thread, local) {
  if (!onPassage(thread)) return false;
  return thread.start === null || thread.state === "detached" || Boolean(local && local.detached);
}

/**
 * The state as the server names it (hidden, detached, resolved, open), with a passage the
 * local edits removed counted as detached at once.
 * @param {any} thread
 * @param {{detached?: boolean} | undefined} [local]
 */
export function threadState(thread, local) {
  if (thread.state === "hidden") return "hidden";
  if (isDetached(thread, local)) return "detached";
  return thread.resolved ? "resolved" : "open";
}

/**
 * Whether the thread shows under `filter`.
 * @param {any} thread
 * @param {string} filter one of FILTERS
 * @param {{detached?: boolean} | undefined} [local]
 */
export function matchesFilter(thread, filter, local) {
  switch (filter) {
    case "open":
      return !thread.resolved;
    case "resolved":
      return Boolean(thread.resolved);
    case "mine":
      return Boolean(thread.mine) || (thread.replies || []).some((reply) => reply.mine);
    case "detached":
      return isDetached(thread, local);
    default:
      return true;
  }
}

/**
 * The threads in text order: comments on the whole declaration first, then those on
 * passages by where the passage starts now, then those without a passage; ties by age.
 * @param {any[]} threads
 * @param {(id: number) => number | null} positionOf the passage's start in the local
 *   text, null when it has none
 */
export function orderThreads(threads, positionOf) {
  const rank = (thread) => {
    if (!onPassage(thread)) return [0, 0];
    const position = positionOf(thread.id);
    return position === null ? [2, 0] : [1, position];
  };
  return threads
    .map((thread) => ({ thread, key: rank(thread) }))
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.thread.id - b.thread.id)
    .map((entry) => entry.thread);
}

// A web address: http(s):// and everything up to a blank or an angle bracket or quote.
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
// Punctuation at the end belongs to the sentence, not to the address.
const TRAILING = /[.,;:!?'’”»)\]}]/;
const CLOSING = { ")": "(", "]": "[", "}": "{" };

/**
 * Split plain text into parts; parts with `href` are web addresses (http and https only).
 * Nothing here is markup: the caller puts every part into the page as text.
 * @param {string} text
 * @returns {({text: string} | {text: string, href: string})[]}
 */
export function linkParts(text) {
  /** @type {({text: string} | {text: string, href: string})[]} */
  const parts = [];
  let last = 0;
  const plain = (until) => {
    if (until > last) parts.push({ text: text.slice(last, until) });
  };
  for (const match of text.matchAll(URL_PATTERN)) {
    let candidate = match[0];
    // Strip punctuation from the end, but keep a bracket that closes one opened in the
    // address (Wikipedia links).
    while (candidate.length && TRAILING.test(candidate[candidate.length - 1])) {
      const char = candidate[candidate.length - 1];
      const open = CLOSING[char];
      if (open && count(candidate, open) >= count(candidate, char)) break;
      candidate = candidate.slice(0, -1);
    }
    let href = null;
    try {
      const url = new URL(candidate);
      if (url.protocol === "http:" || url.protocol === "https:") href = url.href;
    } catch {
      href = null;
    }
    if (href === null) continue;
    plain(match.index);
    parts.push({ text: candidate, href });
    last = match.index + candidate.length;
  }
  plain(text.length);
  return parts;
}

function count(text, char) {
  let n = 0;
  for (const c of text) if (c === char) n += 1;
  return n;
}

/**
 * Shorten a quote for the list: at most `max` characters, cut at a word where possible.
 * @param {string} text
 * @param {number} [max]
 */
export function shorten(text, max = 140) {
  const flat = text.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  if (chars.length <= max) return flat;
  const head = chars.slice(0, max - 1).join("");
  const space = head.lastIndexOf(" ");
  return `${space > max * 0.6 ? head.slice(0, space) : head}…`;
}

/**
 * The number of characters as the server counts them (code points).
 * @param {string} text
 */
export function charCount(text) {
  return codePointLength(text);
}

/**
 * "3. Dezember 2026, 14:20 Uhr" (or "December 3, 2026, 2:20 PM"), Berlin time, like the
 * server's `long_datetime`.
 * @param {string | null} iso a timestamp; without an offset it is taken as UTC
 * @param {string} [lang] "de" or "en"
 */
export function formatDateTime(iso, lang = "de") {
  if (!iso) return "";
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(date.getTime())) return "";
  const english = String(lang).toLowerCase().startsWith("en");
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat(english ? "en-US" : "de-DE", {
      timeZone: "Europe/Berlin",
      year: "numeric",
      month: "long",
      day: "numeric",
      hour: english ? "numeric" : "2-digit",
      minute: "2-digit",
      hour12: english,
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  if (english) return `${parts.month} ${parts.day}, ${parts.year}, ${parts.hour}:${parts.minute} ${parts.dayPeriod}`;
  return `${parts.day}. ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute} Uhr`;
}

/**
 * Fill `{name}` placeholders of a translated string.
 * @param {string} template
 * @param {Record<string, string | number>} values
 */
export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
