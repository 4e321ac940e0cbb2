// /teach/courses/{course id}/gradebook: the course's students by its graded items for staff
// (GET /courses/{id}/gradebook: a page of students by name, cursor paging), with category and
// total percents and letters, the CSV export, and per cell: override the points with a reason
// (PUT|DELETE /gradebook/items/{item}/overrides/{student}; audited) or, on a manual item,
// enter the score (PUT /gradebook/items/{item}/scores/{student}). Categories, items, the letter
// scale and the override history are in gradebook-setup.js.

import { API, ApiError, api } from "./api.js";
import { GradebookSetup } from "./gradebook-setup.js";
import { STAFF_ROLES, body, fail, messages, refuse, segments, show } from "./page-shell.js";
import { button, el, link, problemText, say } from "./ui.js";

const PAGE_SIZE = 25;
export const fmt = (n) => (n === null || n === undefined ? "—" : `${Number(Number(n).toFixed(2))}`);
const pct = (n) => (n === null || n === undefined ? "—" : `${fmt(n)} %`);
let ids = 0;

class Gradebook {
  constructor(course) {
    this.course = course;
    this.cursors = [null]; // the cursor of each page seen; the last one is this page's
    this.data = null;
  }

  async load() {
    const tools = el("p", null, "page-links");
    tools.append(link(`${API}/courses/${this.course.id}/gradebook.csv`, "Export the gradebook (CSV)"));
    this.tableBox = el("section", null, "card gradebook-card");
    const title = el("h2", "Students and items");
    title.id = "gradebook-table-title";
    this.tableBox.setAttribute("aria-labelledby", title.id);
    this.scroller = el("div", null, "table-scroll");
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute("role", "region");
    this.scroller.setAttribute("aria-labelledby", title.id);
    const nav = el("div", null, "editor-actions gradebook-paging");
    this.prev = button("Previous students", "button secondary small");
    this.next = button("Next students", "button secondary small");
    this.pageLine = el("span", "", "muted");
    this.prev.addEventListener("click", () => this.go(-1));
    this.next.addEventListener("click", () => this.go(1));
    nav.append(this.prev, this.next, this.pageLine);
    this.cellPanel = el("div", null, "gradebook-cell-panel");
    this.cellPanel.id = "gradebook-cell";
    this.tableBox.append(title, this.scroller, nav, this.cellPanel);
    this.setup = new GradebookSetup(this.course, () => this.refresh());
    body().append(tools, this.tableBox, this.setup.node);
    await this.refresh();
    await this.setup.load();
  }

  async go(step) {
    if (step > 0 && this.data?.next_cursor) this.cursors.push(this.data.next_cursor);
    if (step < 0 && this.cursors.length > 1) this.cursors.pop();
    await this.refresh();
  }

  async refresh() {
    const cursor = this.cursors[this.cursors.length - 1];
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set("cursor", cursor);
    try {
      this.data = await api("GET", `/courses/${this.course.id}/gradebook?${query}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(messages, problemText(error), "error");
      return;
    }
    this.render();
  }

  render() {
    const { items, categories, students } = this.data;
    const catName = new Map(categories.map((c) => [c.id, c.name]));
    const table = el("table", null, "gradebook-table");
    table.id = "gradebook";
    table.append(el("caption", `${students.length} ${students.length === 1 ? "student" : "students"} on this page`, "visually-hidden"));
    const head = el("tr");
    const corner = el("th", "Student");
    corner.scope = "col";
    head.append(corner);
    for (const item of items) {
      const th = el("th", null, "gradebook-item");
      th.scope = "col";
      th.dataset.itemId = item.id;
      // A lesson's item links to its grading queue.
      th.append(item.lesson_id ? link(`/teach/lessons/${item.lesson_id}/grading`, item.title) : el("span", item.title), el("br"));
      const notes = [`/ ${fmt(item.max_points)}`];
      if (item.category_id) notes.push(catName.get(item.category_id) || "");
      if (item.extra_credit) notes.push("extra credit");
      th.append(el("span", notes.join(" · "), "muted"));
      head.append(th);
    }
    for (const c of categories) {
      const th = el("th", `${c.name} (${fmt(c.weight_percent)} %)`, "gradebook-category");
      th.scope = "col";
      head.append(th);
    }
    for (const text of ["Total", "Letter"]) {
      const th = el("th", text);
      th.scope = "col";
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const row of students) {
      const tr = el("tr");
      tr.dataset.studentId = row.student.id;
      const who = el("th", null, "gradebook-student");
      who.scope = "row";
      who.append(el("span", row.student.display_name), el("br"), el("span", row.student.email, "muted"));
      tr.append(who);
      for (const item of items) {
        const cell = row.scores[item.id] || null;
        const td = el("td", null, "gradebook-cell");
        td.dataset.itemId = item.id;
        const text = cell ? `${fmt(cell.points)}${cell.overridden ? " *" : ""}` : "—";
        const open = button(text, "cell-button", `${item.title} for ${row.student.display_name}: ${cell && cell.points !== null ? `${fmt(cell.points)} of ${fmt(cell.max_points)}` : "no grade"}${cell?.overridden ? ", overridden" : ""}${cell?.status === "draft" ? ", draft" : ""}. Change`);
        if (cell?.status === "draft") open.classList.add("cell-draft");
        open.addEventListener("click", () => this.editCell(row, item, cell, open));
        td.append(open);
        tr.append(td);
      }
      for (const c of categories) tr.append(el("td", pct(row.categories[c.id])));
      const total = el("td", pct(row.percent), "gradebook-total");
      tr.append(total, el("td", row.letter || "—", "gradebook-letter"));
      tbody.append(tr);
    }
    if (!students.length) {
      const tr = el("tr");
      const td = el("td", "No students enrolled yet.", "muted");
      td.colSpan = items.length + categories.length + 3;
      tr.append(td);
      tbody.append(tr);
    }
    table.append(thead, tbody);
    this.scroller.replaceChildren(table);
    this.prev.disabled = this.cursors.length < 2;
    this.next.disabled = !this.data.next_cursor;
    this.pageLine.textContent = `Page ${this.cursors.length}`;
    if (!this.legend) {
      this.legend = el("p", "* overridden · grey: a draft, not counted until released", "hint");
      this.scroller.after(this.legend);
    }
  }

  /** The panel for one cell: an override (with its reason) or, on a manual item, the score. */
  editCell(row, item, cell, opener) {
    const manual = item.kind === "manual";
    const box = this.cellPanel;
    const title = el("h3", `${item.title} — ${row.student.display_name}`);
    title.id = `cell-title-${++ids}`;
    title.tabIndex = -1;
    const form = el("form", null, "inline-form");
    form.noValidate = true;
    form.setAttribute("aria-labelledby", title.id);
    const points = document.createElement("input");
    points.type = "number";
    points.min = "0";
    points.step = "any";
    points.id = `cell-points-${ids}`;
    points.value = cell?.points ?? "";
    const reason = document.createElement("input");
    reason.type = "text";
    reason.maxLength = 500;
    reason.id = `cell-reason-${ids}`;
    const field = (text, control) => {
      const wrap = el("div", null, "field");
      const label = el("label", text);
      label.htmlFor = control.id;
      wrap.append(label, control);
      return wrap;
    };
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    const saveScore = button("Save the score", "button small");
    const saveOverride = button("Override", "button small");
    const removeOverride = button("Remove the override", "button secondary small");
    const cancel = button("Cancel", "button secondary small");
    form.append(field(`Points (of ${fmt(item.max_points)})`, points), field("Reason", reason));
    const actions = el("div", null, "editor-actions");
    if (manual) actions.append(saveScore);
    actions.append(saveOverride);
    if (cell?.overridden) actions.append(removeOverride);
    actions.append(cancel);
    const close = () => {
      box.replaceChildren();
      opener.focus();
    };
    const run = async (action, done) => {
      problem.replaceChildren();
      try {
        await action();
        say(messages, done, "success");
        box.replaceChildren();
        await this.refresh();
        this.scroller.querySelector(`tr[data-student-id="${row.student.id}"] td[data-item-id="${item.id}"] button`)?.focus();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        problem.append(el("p", problemText(error)));
      }
    };
    const path = (what) => `/gradebook/items/${item.id}/${what}/${row.student.id}`;
    saveScore.addEventListener("click", () =>
      run(() => api("PUT", path("scores"), { points: Number(points.value) }), "Score saved."),
    );
    saveOverride.addEventListener("click", () => {
      if (points.value === "") return problem.replaceChildren(el("p", "Give the points."));
      if (!reason.value.trim()) return problem.replaceChildren(el("p", "An override needs a reason."));
      return run(() => api("PUT", path("overrides"), { points: Number(points.value), reason: reason.value.trim() }), "Override saved.");
    });
    removeOverride.addEventListener("click", () => {
      if (!reason.value.trim()) return problem.replaceChildren(el("p", "Say why the override goes."));
      return run(() => api("DELETE", path("overrides"), { reason: reason.value.trim() }), "Override removed.");
    });
    cancel.addEventListener("click", close);
    form.addEventListener("submit", (event) => event.preventDefault());
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    const hint = manual ? "A manual item: save the score, or override it with a reason." : "The grade comes from the lesson; an override replaces it in the gradebook, with a reason kept in the audit.";
    box.replaceChildren(title, el("p", hint, "hint"), form, actions, problem);
    title.focus();
  }
}

async function gradebookPage() {
  const courseId = segments()[2];
  let course;
  try {
    course = await api("GET", `/courses/${encodeURIComponent(courseId)}`);
  } catch (error) {
    fail(error, "This gradebook cannot be shown: ");
    return;
  }
  if (!STAFF_ROLES.has(course.your_role)) {
    refuse("Only the course's staff can see its gradebook.");
    return;
  }
  show({ title: `Gradebook: ${course.title}`, back: `/teach/${course.id}`, backText: "Back to the course editor" });
  try {
    await new Gradebook(course).load();
  } catch (error) {
    fail(error, "The gradebook cannot be loaded: ");
  }
}

if (document.body.dataset.page === "gradebook") gradebookPage();
