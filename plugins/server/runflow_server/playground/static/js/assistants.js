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
    const files = await listAll("/files?purpose=assistants").catch(() => []);
    if (ticket !== this.editing) return; // another edit began meanwhile: it wins
    const attached = new Set(assistant?.tool_resources?.code_interpreter?.file_ids || []);
    this.hadFiles = attached.size > 0;
    const field = (label, ...inputs) => h("label", { class: "field" }, h("span", {}, label), ...inputs);
    fill(this.form,
      h("h2", { id: "assistant-form-title" }, assistant ? `Edit ${assistant.name || assistant.id}` : "New assistant"),
      field("Name", h("input", { name: "name", value: assistant?.name || "", required: true })),
      field("Model", h("input", { name: "model", value: assistant?.model || "gpt-4o", required: true })),
      field("Instructions", h("textarea", { name: "instructions", rows: 3 }, assistant?.instructions || "")),
      h("fieldset", {}, h("legend", {}, "Built-in tools"),
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "code_interpreter", checked: has("code_interpreter") }), " Code interpreter"),
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "file_search", checked: has("file_search") }), " File search")),
      field("Function tools",
        h("textarea", { name: "functions", rows: 8, class: "code", spellcheck: "false", placeholder: EXAMPLE_FUNCTIONS,
          "aria-describedby": "functions-hint" }, functions.length ? JSON.stringify(functions, null, 2) : ""),
        h("small", { id: "functions-hint", class: "muted" }, "A JSON array of {name, description, parameters}, parameters as a JSON schema.")),
      h("fieldset", {}, h("legend", {}, "Files for the code interpreter"),
        files.length ? files.map((f) => h("label", { class: "check" },
          h("input", { type: "checkbox", name: "file", value: f.id, checked: attached.has(f.id) }), ` ${f.filename}`))
          : h("p", { class: "muted" }, "No files uploaded yet."),
        field("Upload a file", h("input", { type: "file", name: "upload", onchange: (e) => this.uploadFile(e.target) }))),
      field("Metadata (JSON object)", h("textarea", { name: "metadata", rows: 2, class: "code", spellcheck: "false" },
        assistant && Object.keys(assistant.metadata || {}).length ? JSON.stringify(assistant.metadata) : "")),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, assistant ? "Save assistant" : "Create assistant"),
        assistant ? h("button", { type: "button", class: "danger", onclick: () => this.remove(assistant) }, "Delete assistant") : null,
        h("span", { class: "muted", role: "status", id: "assistant-status" })));
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
    if (fileIds.length || this.hadFiles) body.tool_resources = { code_interpreter: { file_ids: fileIds } };
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
