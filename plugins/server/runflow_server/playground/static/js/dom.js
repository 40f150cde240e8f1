// Small DOM helpers: build elements without innerHTML (server text is never parsed as HTML).

/** h("button", {class: "x", onclick: fn}, "Save") -> <button class="x">Save</button> */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  element.append(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** Replace all children of `element`. */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined));
  return element;
}

/** Epoch seconds -> local time "14:03:27". */
export function clock(seconds) {
  if (!seconds) return "–";
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

/** A duration in seconds -> "1.2 s" / "3 min 4 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** When a run came to rest, or null while it is active. */
export function endedAt(run) {
  return run.completed_at || run.failed_at || run.cancelled_at || run.expired_at || run.incomplete_at || null;
}

/** A status as a badge: text a user reads, a class for its colour. */
export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status.replace("_", " "));
}

/** Show an error in the page's alert region (read out by screen readers). */
export function showError(error) {
  const region = document.getElementById("alert");
  fill(region, error ? h("p", {}, String(error.message || error)) : null);
  region.hidden = !error;
}

export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
