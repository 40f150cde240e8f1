// The server's public JSON API, as any client calls it: /v1, the API key as a Bearer header.
// The key lives in this tab's sessionStorage only; nothing else is stored about it.

const BASE = "/v1";
const KEY_SLOT = "runflow.playground.apiKey";
let clockSkewMs = 0; // server clock minus ours, from the Date header of the last answer

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key);
  else sessionStorage.removeItem(KEY_SLOT);
}

/** Server time now, in epoch seconds (for countdowns to `expires_at`). */
export function serverNow() {
  return (Date.now() + clockSkewMs) / 1000;
}

function headers(extra = {}) {
  const result = { ...extra };
  const key = apiKey();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

function noteClock(response) {
  const date = Date.parse(response.headers.get("date") || "");
  if (!Number.isNaN(date)) clockSkewMs = date - Date.now();
}

async function send(method, path, body, root = BASE) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(root + path, init);
  noteClock(response);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path, root) => send("GET", path, undefined, root);
export const post = (path, body = {}) => send("POST", path, body);
export const del = (path) => send("DELETE", path);

/** Every item of a list route, following `has_more` / `last_id`. */
export async function listAll(path, { limit = 100, most = 1000, root } = {}) {
  const items = [];
  let after = null;
  const joiner = path.includes("?") ? "&" : "?";
  while (items.length < most) {
    const page = await get(`${path}${joiner}limit=${limit}&order=desc${after ? `&after=${after}` : ""}`, root);
    items.push(...page.data);
    if (!page.has_more || !page.last_id) break;
    after = page.last_id;
  }
  return items;
}

/** Upload a file (multipart, like the SDK); answers the file object. */
export async function upload(file, purpose = "assistants") {
  const form = new FormData();
  form.append("purpose", purpose);
  form.append("file", file, file.name);
  const response = await fetch(`${BASE}/files`, { method: "POST", headers: headers(), body: form });
  noteClock(response);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** A file's bytes as a Blob (for images and downloads: <img src> cannot send the key). */
export async function fileBlob(fileId) {
  const response = await fetch(`${BASE}/files/${encodeURIComponent(fileId)}/content`, { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.blob();
}

/**
 * POST with `stream: true` and hand each server-sent event to `onEvent(name, data)` as it arrives.
 * Resolves when the stream ends (`done`, or the connection closes).
 */
export async function stream(path, body, onEvent, signal) {
  const response = await fetch(BASE + path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  noteClock(response);
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseEvent(block);
      if (event) onEvent(event.name, event.data);
    }
  }
}

/** One SSE block -> {name, data}; `data` is parsed JSON, or the raw text (`[DONE]`). */
export function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length && name === "message") return null;
  const text = data.join("\n");
  try {
    return { name, data: JSON.parse(text) };
  } catch {
    return { name, data: text };
  }
}
