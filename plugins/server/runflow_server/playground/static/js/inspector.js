// Inspector: every run of every known thread, filterable by assistant and status, and one run's
// full timeline (its status changes and steps, from the timestamps the server keeps).

import { listAll } from "./api.js";
import { badge, clock, duration, endedAt, fill, h, showError } from "./dom.js";
import { stepView } from "./render.js";
import { knownThreads } from "./threads.js";

const STATUSES = ["queued", "in_progress", "requires_action", "cancelling", "cancelled", "failed", "completed", "incomplete", "expired"];

export class InspectorView {
  constructor(root) {
    this.runs = [];
    this.assistants = [];
    this.assistantFilter = h("select", { id: "filter-assistant", onchange: () => this.renderTable() });
    this.statusFilter = h("select", { id: "filter-status", onchange: () => this.renderTable() },
      h("option", { value: "" }, "any status"), STATUSES.map((s) => h("option", { value: s }, s.replace("_", " "))));
    this.source = h("p", { class: "muted small" });
    this.table = h("table", { class: "runs", "aria-label": "Runs" });
    this.detail = h("section", { class: "timeline card", "aria-label": "Run timeline", tabindex: "-1" },
      h("p", { class: "muted" }, "Choose a run to see its timeline."));
    fill(root,
      h("section", { class: "inspector" },
        h("div", { class: "toolbar" },
          h("label", { for: "filter-assistant" }, "Assistant"), this.assistantFilter,
          h("label", { for: "filter-status" }, "Status"), this.statusFilter,
          h("button", { type: "button", onclick: () => this.load() }, "Refresh")),
        this.source, h("div", { class: "table-wrap" }, this.table)),
      this.detail);
  }

  setAssistants(assistants) {
    this.assistants = assistants;
    const current = this.assistantFilter.value;
    fill(this.assistantFilter, h("option", { value: "" }, "any assistant"),
      assistants.map((a) => h("option", { value: a.id, selected: a.id === current }, a.name || a.id)));
  }

  async load() {
    try {
      const { threads, source } = await knownThreads();
      this.source.textContent = source === "server"
        ? `${plural(threads.length, "thread")} on the server.`
        : `${plural(threads.length, "thread")} created in this browser (the server has no route that lists threads).`;
      const perThread = await Promise.all(threads.map((t) => listAll(`/threads/${t.id}/runs`)));
      this.runs = perThread.flat().sort((a, b) => b.created_at - a.created_at);
      this.renderTable();
    } catch (error) {
      showError(error);
    }
  }

  renderTable() {
    const assistant = this.assistantFilter.value;
    const status = this.statusFilter.value;
    const rows = this.runs.filter((r) => (!assistant || r.assistant_id === assistant) && (!status || r.status === status));
    const names = new Map(this.assistants.map((a) => [a.id, a.name || a.id]));
    fill(this.table,
      h("caption", { class: "visually-hidden" }, "Runs"),
      h("thead", {}, h("tr", {}, ["Run", "Thread", "Assistant", "Status", "Created", "Duration", "Tokens", "Last error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.length ? rows.map((run) => h("tr", {},
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => this.open(run) }, run.id)),
        h("td", {}, h("code", { class: "small clip", title: run.thread_id }, run.thread_id)),
        h("td", {}, names.get(run.assistant_id) || run.assistant_id),
        h("td", {}, badge(run.status)),
        h("td", {}, clock(run.created_at)),
        h("td", {}, duration((endedAt(run) || null) && endedAt(run) - (run.started_at || run.created_at))),
        h("td", {}, run.usage ? `${run.usage.prompt_tokens} + ${run.usage.completion_tokens}` : "–"),
        h("td", { class: "error" }, run.last_error ? `${run.last_error.code}: ${run.last_error.message}` : "")))
        : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No runs match."))));
  }

  async open(run) {
    try {
      const steps = (await listAll(`/threads/${run.thread_id}/runs/${run.id}/steps`)).reverse();
      const moments = [
        ["created", run.created_at], ["started", run.started_at],
        ...steps.flatMap((s) => [[`step ${s.type.replace("_", " ")} created`, s.created_at], [`step ${s.status}`, endedAt(s)]]),
        [run.status, endedAt(run)],
      ].filter(([, at]) => at).sort((a, b) => a[1] - b[1]);
      fill(this.detail,
        h("h2", {}, "Timeline of ", run.id), badge(run.status),
        h("dl", { class: "facts" },
          h("dt", {}, "Model"), h("dd", {}, run.model),
          h("dt", {}, "Expires at"), h("dd", {}, clock(run.expires_at)),
          h("dt", {}, "Usage"), h("dd", {}, run.usage ? `${run.usage.prompt_tokens} prompt + ${run.usage.completion_tokens} completion = ${run.usage.total_tokens}` : "–"),
          h("dt", {}, "Last error"), h("dd", {}, run.last_error ? `${run.last_error.code}: ${run.last_error.message}` : "none")),
        h("ol", { class: "moments" }, moments.map(([what, at]) =>
          h("li", {}, h("time", {}, clock(at)), ` +${duration(at - run.created_at)} `, what))),
        h("h3", {}, "Steps"), steps.map(stepView));
      this.detail.focus();
    } catch (error) {
      showError(error);
    }
  }
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
