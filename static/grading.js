// /teach/lessons/{lesson id}/grading: the grading queue of a quiz or assignment lesson for the
// course's staff (GET /lessons/{id}/grading-queue: ungraded first, oldest first, then drafts,
// then released; cursor paging), a filter by status, Release all drafts, every submission as
// one zip, grades as CSV (export, and import: all or nothing, errors by line), and one
// student's grading panel (grading-detail.js) opened from their row.

import { API, ApiError, api } from "./api.js";
import { GradingPanel } from "./grading-detail.js";
import { STAFF_ROLES, body, fail, messages, refuse, segments, show } from "./page-shell.js";
import { button, el, link, problemText, say } from "./ui.js";

const STATUS = { "": "Everyone", ungraded: "Ungraded", draft: "Drafts", released: "Released" };
const fmt = (n) => (n === null || n === undefined ? "—" : `${Number(Number(n).toFixed(2))}`);

function gradeText(item) {
  if (!item.grade) return item.submitted_at ? "Ungraded" : "Nothing handed in";
  const what = item.grade.status === "released" ? "Released" : "Draft";
  return `${what}: ${fmt(item.grade.points)} / ${fmt(item.grade.max_points)}`;
}

async function essaysOf(lesson) {
  // The quiz's fixed essay questions (pools are drawn per attempt: not known here).
  const essays = [];
  try {
    const quiz = await api("GET", `/lessons/${lesson.id}/quiz`);
    let n = 0;
    for (const item of quiz.items || []) {
      n += 1;
      if (!item.question_id) continue;
      const q = await api("GET", `/questions/${item.question_id}`);
      if (q.question.type === "essay") essays.push({ id: q.id, label: `question ${n} (essay, ${q.question.points} pt)` });
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  return essays;
}

class GradingPage {
  constructor(lesson, course) {
    this.lesson = lesson;
    this.course = course;
    this.cursor = null;
    this.status = "";
  }

  async load() {
    let rubric = null;
    try {
      rubric = await api("GET", `/lessons/${this.lesson.id}/rubric`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    // An assignment is graded out of its points_possible (rubric totals are scaled to it).
    let maxPoints = 100;
    if (this.lesson.kind === "assignment") {
      try {
        const a = await api("GET", `/lessons/${this.lesson.id}/assignment`);
        if (a.points_possible) maxPoints = a.points_possible;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
      }
    }
    const essays = this.lesson.kind === "quiz" ? await essaysOf(this.lesson) : [];
    this.ctx = { lesson: this.lesson, rubric, maxPoints, essays };

    const tools = el("section", null, "card grading-tools");
    tools.setAttribute("aria-label", "Queue tools");
    const filter = document.createElement("select");
    filter.id = "grading-filter";
    for (const [value, text] of Object.entries(STATUS)) {
      const option = el("option", text);
      option.value = value;
      filter.append(option);
    }
    filter.addEventListener("change", () => {
      this.status = filter.value;
      this.reload();
    });
    const label = el("label", "Show");
    label.htmlFor = filter.id;
    const filterWrap = el("div", null, "field");
    filterWrap.append(label, filter);
    const releaseAll = button("Release all drafts", "button secondary");
    releaseAll.id = "grading-release-all";
    releaseAll.addEventListener("click", () => this.releaseAll(releaseAll));
    const downloads = el("p", null, "page-links");
    if (this.lesson.kind === "assignment") {
      downloads.append(link(`${API}/lessons/${this.lesson.id}/submissions.zip`, "Download every submission (zip)"), " · ");
    }
    downloads.append(link(`${API}/lessons/${this.lesson.id}/grades.csv`, "Export grades (CSV)"));
    tools.append(filterWrap, releaseAll, downloads, this.importForm());
    if (!rubric && this.lesson.kind === "assignment") {
      tools.append(el("p", "No rubric: grades are given as points. Add one in the assignment's settings.", "hint"));
    }

    const queue = el("section", null, "card grading-queue");
    const title = el("h2", "Queue");
    title.id = "grading-queue-title";
    queue.setAttribute("aria-labelledby", title.id);
    this.list = el("ul", null, "grading-list");
    this.list.id = "grading-list";
    this.more = button("More", "button secondary");
    this.more.hidden = true;
    this.more.addEventListener("click", () => this.page());
    queue.append(title, this.list, this.more);
    this.panelSlot = el("div");
    body().append(tools, queue, this.panelSlot);
    await this.reload();
  }

  async reload() {
    this.cursor = null;
    this.list.replaceChildren();
    await this.page();
  }

  async page() {
    const query = new URLSearchParams({ limit: "50" });
    if (this.status) query.set("status", this.status);
    if (this.cursor) query.set("cursor", this.cursor);
    try {
      const answer = await api("GET", `/lessons/${this.lesson.id}/grading-queue?${query}`);
      for (const item of answer.items) this.list.append(this.row(item));
      if (!this.list.children.length) this.list.append(el("li", "No one here.", "muted"));
      this.cursor = answer.next_cursor;
      this.more.hidden = !this.cursor;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(messages, problemText(error), "error");
    }
  }

  row(item) {
    const li = el("li", null, "grading-row");
    li.dataset.studentId = item.student.id;
    li.dataset.status = item.grade ? item.grade.status : "ungraded";
    const who = el("span", null, "grading-who");
    who.append(el("strong", item.student.display_name), el("span", ` ${item.student.email}`, "muted"));
    const facts = [];
    if (item.submitted_at) facts.push(`handed in ${new Date(item.submitted_at).toLocaleString()}`);
    if (item.late) facts.push("late");
    const state = el("span", gradeText(item), "grading-state");
    const open = button("Grade", "button small", `Grade ${item.student.display_name}`);
    open.addEventListener("click", () => this.open(item));
    li.append(who, el("span", facts.join(" · "), "muted grading-facts"), state, open);
    return li;
  }

  async open(item) {
    const panel = new GradingPanel(this.ctx, item, () => this.reload());
    this.panelSlot.replaceChildren(panel.node);
    await panel.load();
  }

  async releaseAll(control) {
    if (!window.confirm("Release every draft grade of this lesson to its student?")) return;
    control.disabled = true;
    try {
      const { released } = await api("POST", `/lessons/${this.lesson.id}/grades/release`, {});
      say(messages, `${released} ${released === 1 ? "grade" : "grades"} released.`, "success");
      await this.reload();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(messages, problemText(error), "error");
    } finally {
      control.disabled = false;
    }
  }

  importForm() {
    const wrap = el("div", null, "field grading-import");
    const input = document.createElement("input");
    input.type = "file";
    input.id = "grading-import";
    input.accept = ".csv,text/csv";
    const label = el("label", "Import grades (CSV: email,points,feedback)");
    label.htmlFor = input.id;
    const problems = el("div", null, "messages error");
    problems.setAttribute("role", "alert");
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (!file) return;
      problems.replaceChildren();
      try {
        const response = await fetch(`${API}/lessons/${this.lesson.id}/grades.csv`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "text/csv", Accept: "application/json" },
          body: await file.text(),
        });
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) {
          problems.append(el("p", answer.detail || `The server answered ${response.status}.`));
          const list = el("ul");
          for (const e of answer.errors || []) list.append(el("li", `Line ${e.line}: ${e.detail || e.msg || e.code}`));
          problems.append(list);
        } else {
          say(messages, `${answer.updated} grades imported as drafts.`, "success");
          await this.reload();
        }
      } finally {
        input.value = "";
      }
    });
    wrap.append(label, input, problems);
    return wrap;
  }
}

async function gradingPage() {
  const lessonId = segments()[2];
  let lesson;
  let course;
  try {
    lesson = await api("GET", `/lessons/${encodeURIComponent(lessonId)}`);
    course = await api("GET", `/courses/${lesson.course_id}`);
  } catch (error) {
    fail(error, "This grading queue cannot be shown: ");
    return;
  }
  if (!STAFF_ROLES.has(course.your_role)) {
    refuse("Only the course's staff can grade.");
    return;
  }
  if (lesson.kind !== "quiz" && lesson.kind !== "assignment") {
    refuse("Only quiz and assignment lessons are graded.");
    return;
  }
  show({
    title: `Grading: ${lesson.title}`,
    subtitle: course.title,
    back: `/teach/${course.id}`,
    backText: "Back to the course editor",
  });
  try {
    await new GradingPage(lesson, course).load();
  } catch (error) {
    fail(error, "The grading queue cannot be loaded: ");
  }
}

if (document.body.dataset.page === "grading") gradingPage();
