// How messages and run steps look: text with footnotes and download links, images, tool calls.

import { fileBlob, get } from "./api.js";
import { clock, duration, fill, h, pretty } from "./dom.js";

const blobUrls = new Map(); // file id -> object URL (a file is fetched once per page)
let noteCount = 0; // footnote ids, unique on the page

async function fileUrl(fileId) {
  if (!blobUrls.has(fileId)) blobUrls.set(fileId, fileBlob(fileId).then((blob) => URL.createObjectURL(blob)));
  return blobUrls.get(fileId);
}

/** An <img> filled in once its bytes arrive (fetched with the key header). */
export function imageOf(fileId, alt) {
  const img = h("img", { class: "inline-image", alt: alt || `image ${fileId}`, loading: "lazy" });
  fileUrl(fileId)
    .then((url) => (img.src = url))
    .catch((error) => img.replaceWith(h("span", { class: "muted" }, `image ${fileId}: ${error.message}`)));
  return img;
}

/** A link that downloads a file by id. */
export function downloadLink(fileId, label) {
  const name = label.split("/").pop() || fileId;
  const link = h("a", { href: "#", class: "download", download: name }, `⬇ ${name}`);
  link.addEventListener("click", async (event) => {
    if (link.getAttribute("href") !== "#") return;
    event.preventDefault();
    link.href = await fileUrl(fileId);
    link.click();
  });
  return link;
}

/** A download link labelled with the file's name, once the server has told it. */
function namedDownload(fileId) {
  const link = downloadLink(fileId, fileId);
  get(`/files/${encodeURIComponent(fileId)}`)
    .then((file) => {
      link.textContent = `⬇ ${file.filename}`;
      link.download = file.filename;
    })
    .catch(() => {});
  return link;
}

/** A text part: citations become numbered footnotes, file paths download links. */
export function textPart(text) {
  const value = text.value || "";
  const annotations = [...(text.annotations || [])].filter((a) => a.end_index > a.start_index);
  annotations.sort((a, b) => a.start_index - b.start_index);
  const body = h("div", { class: "text" });
  const notes = [];
  let at = 0;
  for (const annotation of annotations) {
    if (annotation.start_index < at) continue;
    let before = value.slice(at, annotation.start_index);
    if (annotation.type === "file_path") {
      // A markdown link around the path, [label](sandbox:/mnt/data/x), becomes one link: label.
      const wrapped = before.match(/\[([^\]]*)\]\($/);
      const closed = value[annotation.end_index] === ")";
      const label = wrapped && closed ? wrapped[1] : annotation.text || value.slice(annotation.start_index, annotation.end_index);
      if (wrapped && closed) before = before.slice(0, wrapped.index);
      body.append(before, downloadLink(annotation.file_path.file_id, label));
      at = annotation.end_index + (wrapped && closed ? 1 : 0);
      continue;
    }
    notes.push({ annotation, id: `note-${++noteCount}` });
    body.append(before, h("sup", {}, h("a", { href: `#${notes.at(-1).id}` }, `[${notes.length}]`)));
    at = annotation.end_index;
  }
  body.append(value.slice(at));
  if (!notes.length) return body;
  const list = h("ol", { class: "footnotes", "aria-label": "Sources" });
  notes.forEach(({ annotation, id }) => {
    const cited = annotation.file_citation || {};
    list.append(
      h("li", { id },
        cited.quote ? h("q", {}, cited.quote) : null, " ", namedDownload(cited.file_id)),
    );
  });
  return h("div", {}, body, list);
}

/** A message's content parts, rendered into `element`. */
export function renderContent(element, content) {
  fill(element, (content || []).map((part) => {
    if (part.type === "text") return textPart(part.text);
    if (part.type === "image_file") return imageOf(part.image_file.file_id, "image from the assistant");
    if (part.type === "image_url") return h("img", { class: "inline-image", src: part.image_url.url, alt: "image" });
    return h("pre", {}, JSON.stringify(part, null, 2));
  }));
}

/** Merge a `thread.message.delta` into a message's content (texts appended by index). */
export function mergeMessageDelta(message, delta) {
  message.content = message.content || [];
  for (const part of delta.content || []) {
    const existing = message.content[part.index];
    if (!existing) {
      const { index, ...rest } = part;
      message.content[index] = structuredClone(rest);
      if (rest.text && !rest.text.annotations) message.content[index].text.annotations = [];
    } else if (part.text) {
      existing.text.value += part.text.value || "";
      existing.text.annotations.push(...(part.text.annotations || []));
    }
  }
}

/** Merge a `thread.run.step.delta` into a step (tool calls by index; strings appended). */
export function mergeStepDelta(step, delta) {
  const calls = delta.step_details?.tool_calls;
  if (!calls) return;
  step.step_details = step.step_details || { type: "tool_calls", tool_calls: [] };
  const target = step.step_details.tool_calls;
  for (const call of calls) {
    const { index, ...rest } = call;
    if (!target[index]) target[index] = { type: rest.type };
    mergeInto(target[index], rest);
  }
}

function mergeInto(target, source) {
  for (const [key, value] of Object.entries(source)) {
    if (typeof value === "string" && typeof target[key] === "string" && key !== "id" && key !== "type" && key !== "name") target[key] += value;
    else if (Array.isArray(value)) target[key] = [...(target[key] || []), ...value.map(({ index, ...rest }) => rest)];
    else if (value && typeof value === "object") mergeInto((target[key] = target[key] || {}), value);
    else target[key] = value;
  }
}

/** A run step, unfolded: what kind, its status and timing, then each tool call. */
export function stepView(step) {
  const details = step.step_details || {};
  const took = step.completed_at && step.created_at ? duration(step.completed_at - step.created_at) : "";
  const title = details.type === "message_creation" ? "Message" : toolSummary(details.tool_calls || []);
  const open = details.type === "tool_calls";
  const summary = h("summary", {}, h("span", { class: "step-title" }, title), " ",
    h("span", { class: `badge status-${step.status}` }, step.status.replace("_", " ")),
    h("span", { class: "muted" }, ` ${clock(step.created_at)} ${took}`));
  const body = details.type === "tool_calls" ? (details.tool_calls || []).map(toolCallView)
    : [h("p", { class: "muted" }, `message ${details.message_creation?.message_id || ""}`)];
  if (step.last_error) body.push(h("p", { class: "error" }, `${step.last_error.code}: ${step.last_error.message}`));
  return h("details", { class: "step", open, dataset: { step: step.id } }, summary, ...body);
}

function toolSummary(calls) {
  const names = calls.map((call) => (call.type === "function" ? call.function?.name : call.type.replace("_", " ")));
  return `Tool calls: ${names.join(", ") || "…"}`;
}

function toolCallView(call) {
  if (call.type === "function") {
    const fn = call.function || {};
    return h("div", { class: "call" },
      h("h4", {}, `ƒ ${fn.name || "…"}`, h("span", { class: "muted" }, ` ${call.id || ""}`)),
      h("div", { class: "label" }, "Arguments"), h("pre", {}, pretty(fn.arguments || "")),
      fn.output !== null && fn.output !== undefined ? [h("div", { class: "label" }, "Output"), h("pre", {}, fn.output)] : null);
  }
  if (call.type === "code_interpreter") {
    const ci = call.code_interpreter || {};
    return h("div", { class: "call" }, h("h4", {}, "Code interpreter"),
      h("div", { class: "label" }, "Input"), h("pre", { class: "code" }, ci.input || ""),
      (ci.outputs || []).map((out) => out.type === "image"
        ? h("figure", {}, imageOf(out.image.file_id, "code interpreter image"), h("figcaption", { class: "muted" }, out.image.file_id))
        : [h("div", { class: "label" }, "Logs"), h("pre", {}, out.logs || "")]));
  }
  if (call.type === "file_search") {
    const results = call.file_search?.results || [];
    return h("div", { class: "call" }, h("h4", {}, "File search"),
      results.length ? h("ol", {}, results.map((r) => h("li", {},
        h("strong", {}, r.file_name || r.file_id), h("span", { class: "muted" }, ` score ${Number(r.score).toFixed(3)}`),
        (r.content || []).map((c) => h("blockquote", {}, c.text || ""))))) : h("p", { class: "muted" }, "no results"));
  }
  return h("pre", {}, JSON.stringify(call, null, 2));
}
