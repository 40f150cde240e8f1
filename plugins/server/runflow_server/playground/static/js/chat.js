// Chat: a thread with an assistant. Runs stream over SSE; the run panel shows the status as it
// changes, each step unfolded, the form for pending tool outputs (with a countdown) and Cancel.

import { get, listAll, post, serverNow, stream, upload } from "./api.js";
import { badge, duration, endedAt, fill, h, showError } from "./dom.js";
import { downloadLink, mergeMessageDelta, mergeStepDelta, renderContent, stepView } from "./render.js";
import { knownThreads, remember } from "./threads.js";

const ACTIVE = new Set(["queued", "in_progress", "requires_action", "cancelling"]);

export class ChatView {
  constructor(root) {
    this.thread = null;
    this.run = null;
    this.steps = new Map();
    this.messages = new Map(); // id -> {message, element}
    this.timer = null;
    this.assistantSelect = h("select", { id: "chat-assistant" });
    this.threadSelect = h("select", { id: "chat-thread", onchange: () => this.openThread(this.threadSelect.value) });
    this.log = h("div", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
    this.log.addEventListener("scroll", () => {
      this.scrolledUp = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight > 80;
    });
    this.input = h("textarea", { id: "chat-input", rows: 2, placeholder: "Ask the assistant…", onkeydown: (e) => this.keydown(e) });
    this.sendButton = h("button", { type: "submit", class: "primary" }, "Send");
    this.attach = h("input", { type: "file", id: "chat-attach", class: "visually-hidden", onchange: () => this.showAttachment() });
    this.attachName = h("span", { class: "muted small attach-name" });
    this.status = h("div", { class: "run-status", role: "status", "aria-live": "polite", "aria-label": "Run status" });
    this.cancelButton = h("button", { type: "button", class: "danger", disabled: true, onclick: () => this.cancel() }, "Cancel run");
    this.action = h("div", { class: "action" });
    this.stepList = h("div", { class: "steps", "aria-label": "Run steps" });
    const composer = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.send(); } },
      h("label", { for: "chat-input", class: "visually-hidden" }, "Message"), this.input,
      h("div", { class: "composer-side" },
        h("label", { for: "chat-attach", class: "button-like", title: "Attach a file to this message" }, "Attach a file"), this.attach,
        this.sendButton),
      this.attachName);
    fill(root,
      h("section", { class: "chat", "aria-label": "Chat" },
        h("div", { class: "toolbar" },
          h("label", { for: "chat-assistant" }, "Assistant"), this.assistantSelect,
          h("label", { for: "chat-thread" }, "Thread"), this.threadSelect,
          h("button", { type: "button", onclick: () => this.newThread() }, "New thread")),
        this.log, composer),
      h("aside", { class: "run-panel", "aria-labelledby": "run-title" },
        h("div", { class: "run-head" }, h("h2", { id: "run-title" }, "Run"), this.cancelButton),
        this.status, this.action, h("h3", {}, "Steps"), this.stepList));
    this.renderRun();
  }

  setAssistants(assistants) {
    this.assistants = assistants;
    const current = this.assistantSelect.value;
    fill(this.assistantSelect, assistants.map((a) => h("option", { value: a.id, selected: a.id === current }, a.name || a.id)));
  }

  async refreshThreads() {
    const { threads } = await knownThreads();
    fill(this.threadSelect, h("option", { value: "" }, "(a new thread)"),
      threads.map((t) => h("option", { value: t.id, selected: t.id === this.thread?.id }, t.id)));
  }

  keydown(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.send();
    }
  }

  newThread() {
    this.thread = null;
    this.threadSelect.value = "";
    this.resetRun();
    fill(this.log);
    this.messages.clear();
    this.input.focus();
  }

  async openThread(threadId) {
    if (!threadId) return this.newThread();
    try {
      this.thread = await get(`/threads/${threadId}`);
      fill(this.log);
      this.messages.clear();
      for (const message of (await listAll(`/threads/${threadId}/messages`)).reverse()) this.showMessage(message);
      const [run] = (await get(`/threads/${threadId}/runs?limit=1`)).data;
      this.resetRun();
      if (run) await this.showRun(run);
    } catch (error) {
      showError(error);
    }
  }

  async send() {
    const text = this.input.value.trim();
    const assistantId = this.assistantSelect.value;
    if (!text) return;
    if (!assistantId) return showError(new Error("Create an assistant first (Assistants tab)."));
    this.sendButton.disabled = true;
    try {
      if (!this.thread) {
        this.thread = await post("/threads", {});
        remember(this.thread);
        await this.refreshThreads();
      }
      const message = { role: "user", content: text };
      const attachments = await this.uploadAttachment(assistantId);
      if (attachments) message.attachments = attachments;
      this.showMessage(await post(`/threads/${this.thread.id}/messages`, message));
      this.input.value = "";
      this.attach.value = "";
      this.showAttachment();
      showError(null);
      this.resetRun();
      await this.follow(`/threads/${this.thread.id}/runs`, { assistant_id: assistantId });
    } catch (error) {
      showError(error);
    } finally {
      this.sendButton.disabled = false;
    }
  }

  showAttachment() {
    const file = this.attach.files[0];
    this.attachName.textContent = file ? `Attached: ${file.name}` : "";
  }

  /** Upload the chosen file, for the tools the assistant has (code interpreter by default). */
  async uploadAttachment(assistantId) {
    const file = this.attach.files[0];
    if (!file) return null;
    const uploaded = await upload(file);
    const assistant = (this.assistants || []).find((a) => a.id === assistantId);
    const types = (assistant?.tools || []).map((t) => t.type).filter((t) => t !== "function");
    const tools = (types.length ? types : ["code_interpreter"]).map((type) => ({ type }));
    return [{ file_id: uploaded.id, tools }];
  }

  /** Open a run stream and apply each event as it arrives. */
  async follow(path, body) {
    try {
      await stream(path, body, (name, data) => this.apply(name, data));
    } finally {
      await this.reconcile(); // a stream cut short leaves the run where the server has it
    }
  }

  async reconcile() {
    const run = this.run;
    if (!run || !ACTIVE.has(run.status) || run.status === "requires_action") return;
    try {
      this.run = await get(`/threads/${run.thread_id}/runs/${run.id}`);
      this.renderRun();
    } catch {
      // the error the stream raised is the one to show
    }
  }

  apply(name, data) {
    if (name.startsWith("thread.run.step.")) {
      const id = data.id;
      if (name === "thread.run.step.delta") {
        const step = this.steps.get(id);
        if (step) mergeStepDelta(step, data.delta);
      } else this.steps.set(id, data);
      this.renderStep(id);
    } else if (name.startsWith("thread.run.")) {
      this.run = data;
      this.renderRun();
    } else if (name === "thread.message.delta") {
      const shown = this.messages.get(data.id);
      if (shown) {
        mergeMessageDelta(shown.message, data.delta);
        renderContent(shown.body, shown.message.content);
        this.scrollDown();
      }
    } else if (name.startsWith("thread.message.")) {
      this.showMessage(data);
    } else if (name === "error") {
      showError(new Error(data.message || data.error?.message || "stream error"));
    }
  }

  showMessage(message) {
    const shown = this.messages.get(message.id);
    if (shown) {
      shown.message = structuredClone(message);
      renderContent(shown.body, message.content);
      shown.element.setAttribute("aria-busy", message.status === "in_progress" ? "true" : "false");
      return;
    }
    const body = h("div", { class: "bubble-body" });
    const element = h("article", { class: `bubble ${message.role}`, "aria-label": `${message.role} message` },
      h("div", { class: "who" }, message.role === "user" ? "You" : "Assistant"), body,
      (message.attachments || []).length ? h("div", { class: "attachments" }, "📎 ",
        message.attachments.map((a) => downloadLink(a.file_id, a.file_id))) : null);
    this.messages.set(message.id, { message: structuredClone(message), element, body });
    renderContent(body, message.content);
    this.log.append(element);
    this.scrollDown();
  }

  /** Follow the conversation down, unless the reader scrolled up to read something. */
  scrollDown() {
    const log = this.log;
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 80 || !this.scrolledUp) log.scrollTop = log.scrollHeight;
  }

  resetRun() {
    this.run = null;
    this.steps.clear();
    fill(this.stepList);
    this.renderRun();
  }

  async showRun(run) {
    this.run = run;
    for (const step of (await listAll(`/threads/${run.thread_id}/runs/${run.id}/steps`)).reverse()) this.steps.set(step.id, step);
    for (const id of this.steps.keys()) this.renderStep(id);
    this.renderRun();
  }

  renderStep(id) {
    const view = stepView(this.steps.get(id));
    const old = this.stepList.querySelector(`[data-step="${id}"]`);
    if (old) {
      view.open = old.open;
      old.replaceWith(view);
    } else this.stepList.append(view);
  }

  renderRun() {
    const run = this.run;
    this.cancelButton.disabled = !run || !ACTIVE.has(run.status);
    if (!run) {
      fill(this.status, h("span", { class: "muted" }, "No run yet. Send a message."));
      fill(this.action);
      this.stopTimer();
      return;
    }
    const ended = endedAt(run);
    fill(this.status, h("div", { class: "run-line" }, badge(run.status), h("code", { class: "small" }, run.id)),
      h("dl", { class: "facts" },
        h("dt", {}, "Model"), h("dd", {}, run.model),
        h("dt", {}, "Tokens"), h("dd", {}, run.usage ? `${run.usage.prompt_tokens} prompt + ${run.usage.completion_tokens} completion` : "–"),
        h("dt", {}, "Took"), h("dd", {}, ended ? duration(ended - run.created_at) : "running…")),
      run.last_error ? h("p", { class: "error" }, `${run.last_error.code}: ${run.last_error.message}`) : null,
      run.incomplete_details ? h("p", { class: "error" }, `incomplete: ${run.incomplete_details.reason}`) : null);
    if (run.status === "requires_action" && !this.action.dataset.run) this.renderAction(run);
    if (run.status !== "requires_action") {
      fill(this.action);
      delete this.action.dataset.run;
      this.stopTimer();
    }
  }

  renderAction(run) {
    const calls = run.required_action?.submit_tool_outputs?.tool_calls || [];
    const timer = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
    const submit = h("button", { type: "submit", class: "primary" }, "Submit outputs");
    const form = h("form", { "aria-label": "Tool outputs", onsubmit: (e) => { e.preventDefault(); this.submit(form, submit); } },
      h("h3", {}, "Waiting for tool outputs"), timer,
      calls.map((call) => h("label", { class: "field" },
        h("span", {}, `Output of ${call.function.name}(${call.function.arguments})`),
        h("textarea", { name: call.id, rows: 2, required: true }))),
      submit);
    this.action.dataset.run = run.id;
    fill(this.action, form);
    const tick = () => {
      const left = Math.max(0, Math.round(run.expires_at - serverNow()));
      timer.textContent = left > 0 ? `Expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "Expired";
      submit.disabled = left <= 0;
      if (left <= 0) this.stopTimer();
    };
    this.stopTimer();
    tick();
    this.timer = setInterval(tick, 1000);
    form.querySelector("textarea")?.focus();
  }

  stopTimer() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async submit(form, button) {
    const run = this.run;
    const outputs = [...new FormData(form).entries()].map(([id, output]) => ({ tool_call_id: id, output }));
    button.disabled = true;
    try {
      await this.follow(`/threads/${run.thread_id}/runs/${run.id}/submit_tool_outputs`, { tool_outputs: outputs });
      showError(null);
    } catch (error) {
      button.disabled = false;
      showError(error);
    }
  }

  async cancel() {
    const run = this.run;
    if (!run) return;
    this.cancelButton.disabled = true;
    try {
      this.run = await post(`/threads/${run.thread_id}/runs/${run.id}/cancel`);
      this.renderRun();
      while (this.run.id === run.id && ACTIVE.has(this.run.status)) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        this.run = await get(`/threads/${run.thread_id}/runs/${run.id}`);
        this.renderRun();
      }
    } catch (error) {
      showError(error);
      this.renderRun();
    }
  }
}
