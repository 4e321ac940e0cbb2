// One student's work and grade on the grading page (grading.js): the submission (text, files)
// or the quiz attempt's essay points, scoring by rubric (a radio group per criterion: click a
// level; the total is their sum) or by points, feedback text and files, Save draft, Release,
// a regrade with its reason once released, and the grade's history.
//   GET /submissions/{id}; GET|PUT /lessons/{id}/grades/{student id} (expected_version);
//   GET /quiz-attempts/{id}/review (the attempt's questions and answers: grading-attempt.js);
//   POST /lessons/{id}/grades/release {student_ids}; POST|DELETE /grades/{id}/files;
//   GET /grades/{id}/history.

import { API, ApiError, api } from "./api.js";
import { attemptReview, attemptWork, manualQuestions } from "./grading-attempt.js";
import { button, el, formatBytes, problemText, progressLine } from "./ui.js";

const fmt = (n) => (n === null || n === undefined ? "—" : `${Number(Number(n).toFixed(2))}`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
let ids = 0;

function fileLink(href, f) {
  const li = el("li");
  const a = el("a", f.filename);
  a.href = href;
  li.append(a, el("span", ` (${formatBytes(f.size)})`, "muted"));
  return li;
}

function postFile(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}${path}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}") || {};
      } catch {
        body = {};
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: "The upload was cut off." }));
    xhr.send(form);
  });
}

export class GradingPanel {
  /** ``ctx``: {lesson, rubric, maxPoints, essays: [{id, label}]}; ``onChange()`` after a save. */
  constructor(ctx, item, onChange) {
    this.ctx = ctx;
    this.item = item;
    this.onChange = onChange;
    this.node = el("section", null, "card grading-panel");
    this.node.id = "grading-panel";
    this.grade = null;
  }

  get student() {
    return this.item.student;
  }

  async load() {
    const title = el("h2", `Grading ${this.student.display_name}`);
    title.id = "grading-panel-title";
    title.tabIndex = -1;
    this.node.setAttribute("aria-labelledby", title.id);
    this.message = el("div", null, "messages");
    this.message.setAttribute("role", "status");
    this.message.setAttribute("aria-live", "polite");
    this.node.replaceChildren(title, el("p", this.student.email, "muted"), this.message);
    try {
      this.grade = await api("GET", `/lessons/${this.ctx.lesson.id}/grades/${this.student.id}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code !== "grade_not_found") return this.say(problemText(error), "error");
    }
    this.workBox = await this.work();
    this.node.append(this.workBox);
    this.form = el("div", null, "grading-form");
    // Whether the form differs from the saved grade: releasing an unchanged draft saves nothing.
    const changed = () => {
      this.dirty = true;
      this.updateTotal?.();
    };
    this.form.addEventListener("input", changed);
    this.form.addEventListener("change", changed);
    this.node.append(this.form);
    this.renderForm();
    title.focus();
  }

  say(text, kind = "info") {
    this.message.className = `messages ${kind}`;
    this.message.replaceChildren(text ? el("p", text) : "");
  }

  async work() {
    const box = el("div", null, "grading-work");
    box.id = "grading-work";
    if (this.item.submission_id) {
      try {
        const s = await api("GET", `/submissions/${this.item.submission_id}`);
        const late = s.is_late ? ` · ${s.days_late} days late (−${s.penalty_percent} %)` : " · on time";
        box.append(el("h3", `Version ${s.version}, handed in ${when(s.submitted_at)}${late}`));
        if (s.text !== null) box.append(el("pre", s.text, "assignment-text grading-text"));
        if (s.files.length) {
          const list = el("ul", null, "grading-files");
          for (const f of s.files) list.append(fileLink(`${API}/submissions/${s.id}/files/${f.id}`, f));
          box.append(list);
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        box.append(el("p", problemText(error), "messages error"));
      }
    } else if (this.item.attempt_id) {
      box.append(el("p", `Quiz attempt submitted ${when(this.item.submitted_at)}. Objective questions were graded automatically; give the essay questions their points below.`));
      // The attempt the grade's question_points apply to (the one that counts or waits).
      try {
        const review = await attemptReview(this.grade?.attempt_id || this.item.attempt_id);
        this.essays = manualQuestions(review);
        box.append(attemptWork(review));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        box.append(el("p", problemText(error), "messages error"));
      }
    } else {
      box.append(el("p", "Nothing handed in.", "muted"));
    }
    return box;
  }

  /** The rubric's chosen levels (criterion id -> level id). */
  chosen() {
    const out = {};
    for (const input of this.form.querySelectorAll("input[type=radio]:checked")) out[input.name.slice(10)] = input.value;
    return out;
  }

  total() {
    const scores = this.chosen();
    let sum = 0;
    for (const c of this.ctx.rubric.criteria) {
      const level = c.levels.find((l) => l.id === scores[c.id]);
      if (level) sum += level.points;
    }
    return sum;
  }

  renderForm() {
    const g = this.grade;
    const parts = [];
    const status = g ? `${g.status === "released" ? "Released" : "Draft"}: ${fmt(g.points)} / ${fmt(g.max_points)} (version ${g.version})` : "Not graded yet";
    const statusLine = el("p", status, "grading-status");
    statusLine.id = "grading-status";
    parts.push(statusLine);
    if (g && g.penalty_percent) parts.push(el("p", `Late penalty: −${g.penalty_percent} % of ${fmt(g.raw_points)}`, "muted"));
    const rubric = this.ctx.rubric;
    let pointsInput = null;
    const essayInputs = new Map();
    if (rubric && !this.item.attempt_id) {
      for (const c of rubric.criteria) {
        const set = el("fieldset", null, "rubric-score");
        set.dataset.criterionId = c.id;
        set.append(el("legend", c.title));
        if (c.description) set.append(el("p", c.description, "hint"));
        const levels = el("div", null, "rubric-levels-pick");
        for (const level of c.levels) {
          const radio = document.createElement("input");
          radio.type = "radio";
          radio.name = `criterion-${c.id}`;
          radio.value = level.id;
          radio.id = `level-${level.id}-${++ids}`;
          radio.checked = g?.rubric_scores?.[c.id] === level.id;
          const label = el("label", null, "rubric-level");
          label.htmlFor = radio.id;
          label.append(radio, ` ${level.title} (${fmt(level.points)})`);
          levels.append(label);
        }
        set.append(levels);
        parts.push(set);
      }
      this.totalLine = el("p", "", "rubric-total");
      this.totalLine.id = "rubric-score-total";
      this.totalLine.setAttribute("aria-live", "polite");
      parts.push(this.totalLine);
    } else if (this.item.attempt_id) {
      const saved = g?.question_points || {};
      const essays = this.essays || this.ctx.essays;
      for (const essay of essays) {
        const input = document.createElement("input");
        input.type = "number";
        input.min = "0";
        if (essay.max !== undefined) input.max = String(essay.max);
        input.step = "any";
        input.value = saved[essay.id] ?? "";
        essayInputs.set(essay.id, input);
        parts.push(this.field(`Points for ${essay.label}`, input));
      }
      if (!essays.length) parts.push(el("p", "This quiz has no essay question to grade by hand.", "muted"));
    } else {
      pointsInput = document.createElement("input");
      pointsInput.type = "number";
      pointsInput.min = "0";
      pointsInput.step = "any";
      pointsInput.value = g?.raw_points ?? g?.points ?? "";
      parts.push(this.field(`Points (out of ${fmt(this.ctx.maxPoints)})`, pointsInput));
    }
    const feedback = document.createElement("textarea");
    feedback.rows = 5;
    feedback.value = g?.feedback_source || "";
    parts.push(this.field("Feedback", feedback, "Markdown; the student sees it once the grade is released."));
    const released = g?.status === "released";
    let reason = null;
    if (released) {
      reason = document.createElement("input");
      reason.type = "text";
      reason.maxLength = 500;
      parts.push(this.field("Reason for the regrade", reason, "Required to change a released grade; the student is told."));
    }
    const actions = el("div", null, "editor-actions");
    const save = button(released ? "Save the regrade" : "Save draft", "button");
    save.id = "grading-save";
    actions.append(save);
    const release = button("Save and release", "button secondary");
    release.id = "grading-release";
    if (!released) actions.append(release);
    const historyButton = button("History", "button secondary");
    historyButton.setAttribute("aria-expanded", "false");
    if (g) actions.append(historyButton);
    parts.push(actions);
    this.form.replaceChildren(...parts, this.filesBox(), this.historyBox());
    this.dirty = false;
    const updateTotal = () => {
      if (!this.totalLine) return;
      const sum = this.total();
      const scaled = rubric.max_points ? (sum * this.ctx.maxPoints) / rubric.max_points : 0;
      const grade = rubric.max_points === this.ctx.maxPoints ? "" : ` → ${fmt(scaled)} / ${fmt(this.ctx.maxPoints)} points`;
      this.totalLine.textContent = `Total: ${fmt(sum)} / ${fmt(rubric.max_points)}${grade}`;
    };
    this.updateTotal = updateTotal;
    updateTotal();

    const body = () => {
      const change = { feedback: feedback.value };
      if (g) change.expected_version = g.version;
      if (released) change.reason = reason.value.trim();
      if (rubric && !this.item.attempt_id) change.rubric_scores = this.chosen();
      else if (this.item.attempt_id) {
        change.question_points = {};
        for (const [id, input] of essayInputs) if (input.value !== "") change.question_points[id] = Number(input.value);
      } else if (pointsInput.value !== "") change.points = Number(pointsInput.value);
      return change;
    };
    const check = () => {
      if (rubric && !this.item.attempt_id && Object.keys(this.chosen()).length < rubric.criteria.length) {
        return "Choose a level for every criterion.";
      }
      if (pointsInput && pointsInput.value === "") return "Give the points first.";
      if (released && !reason.value.trim()) return "Say why the released grade changes.";
      return null;
    };
    save.addEventListener("click", () => this.save(body, check, false, [save, release]));
    release.addEventListener("click", () => this.save(body, check, true, [save, release]));
    historyButton.addEventListener("click", () => this.toggleHistory(historyButton));
  }

  field(text, control, hint) {
    const wrap = el("div", null, "field");
    control.id ||= `g-${++ids}`;
    const label = el("label", text);
    label.htmlFor = control.id;
    wrap.append(label, control);
    if (hint) {
      const p = el("p", hint, "hint");
      p.id = `${control.id}-hint`;
      control.setAttribute("aria-describedby", p.id);
      wrap.append(p);
    }
    return wrap;
  }

  async save(body, check, andRelease, buttons) {
    const problem = check();
    if (problem) return this.say(problem, "error");
    for (const b of buttons) b.disabled = true;
    const path = `/lessons/${this.ctx.lesson.id}/grades/${this.student.id}`;
    try {
      if (!(andRelease && this.grade?.status === "draft" && !this.dirty)) {
        this.grade = await api("PUT", path, body());
      }
      if (andRelease) {
        await api("POST", `/lessons/${this.ctx.lesson.id}/grades/release`, { student_ids: [this.student.id] });
        this.grade = await api("GET", path);
      }
      if (this.item.attempt_id) {
        const work = await this.work(); // the questions' points as saved
        this.workBox.replaceWith(work);
        this.workBox = work;
      }
      this.renderForm();
      this.say(andRelease ? "Saved and released to the student." : this.grade.status === "released" ? "Regrade saved; the student is told." : "Draft saved.", "success");
      this.onChange();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const again = error.code === "grade_version_conflict" ? " Someone else changed it: reopen the student to see their version." : "";
      this.say(`${problemText(error)}${again}`, "error");
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  filesBox() {
    const box = el("div", null, "grading-feedback-files");
    const g = this.grade;
    if (!g) {
      box.append(el("p", "Save the grade to attach feedback files.", "hint"));
      return box;
    }
    box.append(el("h3", "Feedback files"));
    const list = el("ul");
    for (const f of g.files) {
      const li = fileLink(`${API}/grades/${g.id}/files/${f.id}`, f);
      const remove = button("Remove", "button secondary small danger", `Remove ${f.filename}`);
      remove.addEventListener("click", async () => {
        try {
          await api("DELETE", `/grades/${g.id}/files/${f.id}`);
          g.files = g.files.filter((x) => x.id !== f.id);
          box.replaceWith(this.filesBox());
        } catch (error) {
          this.say(problemText(error), "error");
        }
      });
      li.append(" ", remove);
      list.append(li);
    }
    const input = document.createElement("input");
    input.type = "file";
    const slot = el("div");
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (!file) return;
      const bar = progressLine(`Uploading ${file.name}: 0 %`);
      slot.replaceChildren(bar.node);
      try {
        const added = await postFile(`/grades/${g.id}/files`, file, (l, t) => {
          const p = t ? Math.round((l / t) * 100) : 0;
          bar.set(p, `Uploading ${file.name}: ${p} %`);
        });
        g.files = [...g.files, added];
        box.replaceWith(this.filesBox());
        this.say(`${file.name} attached.`, "success");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        bar.set(0, `${file.name} was not uploaded.`);
        this.say(problemText(error), "error");
      }
    });
    box.append(list, this.field("Attach a feedback file", input), slot);
    return box;
  }

  historyBox() {
    this.history = el("div", null, "grading-history");
    this.history.id = "grading-history";
    this.history.hidden = true;
    return this.history;
  }

  async toggleHistory(toggle) {
    if (!this.history.hidden) {
      this.history.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      return;
    }
    try {
      const { items } = await api("GET", `/grades/${this.grade.id}/history`);
      const list = el("ol", null, "grading-history-list");
      for (const r of items) {
        const text = `Version ${r.version} · ${r.status} · ${fmt(r.points)} / ${fmt(r.max_points)} · ${when(r.changed_at)}`;
        const li = el("li", text);
        if (r.reason) li.append(el("span", ` · reason: ${r.reason}`, "muted"));
        list.append(li);
      }
      this.history.replaceChildren(el("h3", "History"), list);
      this.history.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.say(problemText(error), "error");
    }
  }
}
