// Assistants: the list, and a form to create, edit and delete one.

import { del, get, listAll, post, upload } from "./api.js";
import { fill, h, showError } from "./dom.js";

const EXAMPLE_FUNCTIONS = `[
  {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
      "type": "object",
      "properties": {"city": {"type": "string"}},
      "required": ["city"]
    }
  }
]`;

export class AssistantsView {
  constructor(root, { onChange }) {
    this.root = root;
    this.onChange = onChange;
    this.assistants = [];
    this.selected = null;
    this.list = h("ul", { class: "pick-list", "aria-label": "Assistants" });
    this.form = h("form", { class: "card", "aria-labelledby": "assistant-form-title" });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    fill(root,
      h("section", { class: "sidebar", "aria-label": "Assistant list" },
        h("button", { type: "button", class: "primary wide", onclick: () => this.edit(null) }, "+ New assistant"),
        this.list),
      this.form);
  }

  async load() {
    this.assistants = await listAll("/assistants");
    this.renderList();
    if (!this.editing) this.edit(this.assistants[0] || null); // the first load: show one
    this.onChange(this.assistants);
  }

  renderList() {
    fill(this.list, this.assistants.length ? this.assistants.map((a) =>
      h("li", {}, h("button", {
        type: "button", class: "pick", "aria-current": a.id === this.selected?.id ? "true" : null,
        onclick: () => this.edit(a),
      }, h("span", {}, a.name || "(unnamed)"), h("span", { class: "muted small" }, ` ${a.model} · ${a.id}`))))
      : h("li", { class: "muted" }, "No assistants yet."));
  }

  async edit(assistant) {
    this.selected = assistant;
    this.renderList();
    const tools = assistant?.tools || [];
    const has = (type) => tools.some((t) => t.type === type);
    const functions = tools.filter((t) => t.type === "function").map((t) => t.function);
    const ticket = (this.editing = (this.editing || 0) + 1);
    const resources = assistant?.tool_resources || {};
    this.hadFiles = (resources.code_interpreter?.file_ids || []).length > 0;
    this.hadStores = (resources.file_search?.vector_store_ids || []).length > 0;
    const filesBox = h("div", { "aria-busy": "true" });
    const storesBox = h("div");
    this.resourcesShown = false; // until they are, a save leaves the assistant's resources alone
    fill(this.form,
      h("h2", { id: "assistant-form-title" }, assistant ? `Edit ${assistant.name || assistant.id}` : "New assistant"),
      field("Name", h("input", { name: "name", value: assistant?.name || "", required: true })),
      field("Model", h("input", { name: "model", value: assistant?.model || "gpt-4o", required: true })),
      field("Instructions", h("textarea", { name: "instructions", rows: 3 }, assistant?.instructions || "")),
      h("fieldset", {}, h("legend", {}, "Built-in tools"),
        check("code_interpreter", "Code interpreter", has("code_interpreter")),
        check("file_search", "File search", has("file_search"))),
      field("Function tools",
        h("textarea", { name: "functions", rows: 8, class: "code", spellcheck: "false", placeholder: EXAMPLE_FUNCTIONS,
          "aria-describedby": "functions-hint" }, functions.length ? JSON.stringify(functions, null, 2) : "")),
      h("small", { id: "functions-hint", class: "muted hint" }, "A JSON array of {name, description, parameters}, parameters as a JSON schema."),
      filesBox, storesBox,
      field("Metadata (JSON object)", h("textarea", { name: "metadata", rows: 2, class: "code", spellcheck: "false" },
        assistant && Object.keys(assistant.metadata || {}).length ? JSON.stringify(assistant.metadata) : "")),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, assistant ? "Save assistant" : "Create assistant"),
        assistant ? h("button", { type: "button", class: "danger", onclick: () => this.remove(assistant) }, "Delete assistant") : null,
        h("span", { class: "muted", role: "status", id: "assistant-status" })));
    // The form is there at once; the lists of files and vector stores follow.
    const [files, stores] = await Promise.all([
      listAll("/files?purpose=assistants").catch(() => []),
      listAll("/vector_stores").catch(() => null), // null: this server has no vector stores
    ]);
    if (ticket !== this.editing) return; // another edit began meanwhile: it owns the form
    fill(filesBox, this.filesFieldset(files, new Set(resources.code_interpreter?.file_ids || [])));
    filesBox.removeAttribute("aria-busy");
    fill(storesBox, storesFieldset(stores, new Set(resources.file_search?.vector_store_ids || [])));
    this.resourcesShown = true;
  }

  filesFieldset(files, attached) {
    return h("fieldset", {}, h("legend", {}, "Files for the code interpreter"),
      files.length ? files.map((f) => check("file", f.filename, attached.has(f.id), f.id))
        : h("p", { class: "muted" }, "No files uploaded yet."),
      field("Upload a file", h("input", { type: "file", name: "upload", onchange: (e) => this.uploadFile(e.target) })));
  }

  async uploadFile(input) {
    if (!input.files.length) return;
    try {
      await upload(input.files[0]);
      await this.edit(this.selected);
    } catch (error) {
      showError(error);
    }
  }

  body() {
    const data = new FormData(this.form);
    const tools = [];
    if (data.get("code_interpreter")) tools.push({ type: "code_interpreter" });
    if (data.get("file_search")) tools.push({ type: "file_search" });
    const functions = parseJson(data.get("functions"), [], "Function tools");
    if (!Array.isArray(functions)) throw new Error("Function tools: expected a JSON array.");
    tools.push(...functions.map((fn) => ({ type: "function", function: fn })));
    const body = {
      name: data.get("name"), model: data.get("model"), instructions: data.get("instructions") || null, tools,
      metadata: parseJson(data.get("metadata"), {}, "Metadata"),
    };
    const fileIds = data.getAll("file");
    const storeIds = data.getAll("vector_store");
    if (!this.resourcesShown) return body;
    body.tool_resources = {};
    if (fileIds.length || this.hadFiles) body.tool_resources.code_interpreter = { file_ids: fileIds };
    if (storeIds.length || this.hadStores) body.tool_resources.file_search = { vector_store_ids: storeIds };
    return body;
  }

  async save() {
    const status = document.getElementById("assistant-status");
    try {
      const body = this.body();
      const saved = this.selected ? await post(`/assistants/${this.selected.id}`, body) : await post("/assistants", body);
      showError(null);
      await this.load();
      await this.edit(this.assistants.find((a) => a.id === saved.id) || saved);
      document.getElementById("assistant-status").textContent = `Saved ${saved.id}.`;
    } catch (error) {
      showError(error);
      if (status) status.textContent = "";
    }
  }

  async remove(assistant) {
    if (!confirm(`Delete ${assistant.name || assistant.id}?`)) return;
    try {
      await del(`/assistants/${assistant.id}`);
      await this.load();
      await this.edit(this.assistants[0] || null);
    } catch (error) {
      showError(error);
    }
  }
}

function field(label, ...inputs) {
  return h("label", { class: "field" }, h("span", {}, label), ...inputs);
}

function check(name, label, checked, value = "on") {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, value, checked }), ` ${label}`);
}

/** The vector stores file search may use, when the server has them (null: it has none). */
function storesFieldset(stores, chosen) {
  if (stores === null) return null;
  return h("fieldset", {}, h("legend", {}, "Vector stores for file search"),
    stores.length ? stores.map((s) => check("vector_store", `${s.name || s.id} (${s.file_counts?.completed ?? 0} files)`, chosen.has(s.id), s.id))
      : h("p", { class: "muted" }, "No vector stores yet."));
}

function parseJson(text, empty, what) {
  if (!text || !String(text).trim()) return empty;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what}: not valid JSON (${error.message}).`);
  }
}

export async function retrieveAssistant(id) {
  return get(`/assistants/${id}`);
}
