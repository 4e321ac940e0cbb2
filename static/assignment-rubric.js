// The rubric editor of a graded lesson (criteria x levels with points): GET, PUT and DELETE
// /lessons/{id}/rubric (the course's staff). 404 rubric_not_found: none yet. The maximum is
// each criterion's best level, summed; the page shows it as the author types. Criteria can be
// moved with Move up / Move down; every control has a label naming its criterion and level.

import { ApiError, api } from "./api.js";
import { button, el, problemText, say } from "./ui.js";
import { field, input } from "./teach-quiz.js";

const blankLevel = (title = "", points = "") => ({ title, points });
const blankCriterion = () => ({
  title: "",
  description: "",
  levels: [blankLevel("Excellent", 10), blankLevel("Good", 7), blankLevel("Needs work", 3)],
});
const fmt = (n) => `${Number(Number(n).toFixed(2))}`;

export class RubricEditor {
  constructor(lesson, root, messages) {
    this.lesson = lesson;
    this.root = root;
    this.messages = messages;
    this.criteria = [];
    this.exists = false;
  }

  async load() {
    try {
      const rubric = await api("GET", `/lessons/${this.lesson.id}/rubric`);
      this.exists = true;
      this.criteria = rubric.criteria.map((c) => ({
        title: c.title,
        description: c.description || "",
        levels: c.levels.map((l) => blankLevel(l.title, l.points)),
      }));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status !== 404) {
        this.root.replaceChildren(el("h2", "Rubric"), el("p", problemText(error), "messages error"));
        return;
      }
    }
    this.render();
  }

  maxPoints() {
    let total = 0;
    for (const c of this.criteria) {
      const best = Math.max(0, ...c.levels.map((l) => Number(l.points) || 0));
      total += best;
    }
    return total;
  }

  render(focusSelector) {
    const title = el("h2", "Rubric");
    title.id = "rubric-title";
    this.root.setAttribute("aria-labelledby", title.id);
    const hint = el(
      "p",
      "Criteria, each with levels worth points: graders click a level per criterion and the total is their sum.",
      "hint",
    );
    this.total = el("p", "", "rubric-total");
    this.total.id = "rubric-total";
    this.total.setAttribute("aria-live", "polite");
    const list = el("ol", null, "rubric-criteria");
    this.criteria.forEach((c, index) => list.append(this.criterionItem(c, index)));
    const add = button("Add a criterion", "button secondary small");
    add.id = "rubric-add";
    add.addEventListener("click", () => {
      this.criteria.push(blankCriterion());
      this.render(`[data-criterion="${this.criteria.length - 1}"] input[name=title]`);
    });
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    problem.id = "rubric-problem";
    const save = button("Save the rubric", "button");
    save.id = "rubric-save";
    save.addEventListener("click", () => this.save(save, problem));
    const actions = el("div", null, "editor-actions");
    actions.append(add, save);
    if (this.exists) {
      const remove = button("Remove the rubric", "button secondary danger");
      remove.addEventListener("click", () => this.remove(problem));
      actions.append(remove);
    }
    this.root.replaceChildren(title, hint, list, this.total, actions, problem);
    this.showTotal();
    if (focusSelector) this.root.querySelector(focusSelector)?.focus();
  }

  showTotal() {
    this.total.textContent = this.criteria.length
      ? `Maximum: ${fmt(this.maxPoints())} points`
      : "No rubric: graders give points directly.";
  }

  criterionItem(c, index) {
    const li = el("li", null, "rubric-criterion");
    li.dataset.criterion = String(index);
    const name = c.title || `Criterion ${index + 1}`;
    const title = input("text", "title", c.title);
    title.maxLength = 200;
    title.addEventListener("input", () => {
      c.title = title.value;
    });
    const description = input("text", "description", c.description);
    description.maxLength = 2000;
    description.addEventListener("input", () => {
      c.description = description.value;
    });
    const head = el("div", null, "rubric-criterion-head");
    head.append(field(`Criterion ${index + 1} title`, title), field(`Criterion ${index + 1} description`, description));
    const levels = el("table", null, "rubric-levels");
    levels.append(el("caption", `Levels of ${name}`));
    const body = el("tbody");
    c.levels.forEach((level, at) => {
      const row = el("tr");
      const levelTitle = input("text", "level_title", level.title);
      levelTitle.setAttribute("aria-label", `Criterion ${index + 1}, level ${at + 1} title`);
      levelTitle.addEventListener("input", () => {
        level.title = levelTitle.value;
      });
      const points = input("number", "level_points", level.points);
      points.min = "0";
      points.step = "any";
      points.setAttribute("aria-label", `Criterion ${index + 1}, level ${at + 1} points`);
      points.addEventListener("input", () => {
        level.points = points.value;
        this.showTotal();
      });
      const remove = button("Remove", "button secondary small", `Remove level ${at + 1} of criterion ${index + 1}`);
      remove.disabled = c.levels.length === 1;
      remove.addEventListener("click", () => {
        c.levels.splice(at, 1);
        this.render(`[data-criterion="${index}"] .add-level`);
      });
      const cells = [levelTitle, points, remove].map((node) => {
        const td = el("td");
        td.append(node);
        return td;
      });
      row.append(...cells);
      body.append(row);
    });
    levels.append(body);
    const actions = el("div", null, "row-actions");
    const addLevel = button("Add a level", "button secondary small add-level", `Add a level to criterion ${index + 1}`);
    addLevel.addEventListener("click", () => {
      c.levels.push(blankLevel());
      this.render(`[data-criterion="${index}"] tr:last-child input`);
    });
    const up = button("Move up", "button secondary small move-up", `Move criterion ${index + 1} up`);
    up.disabled = index === 0;
    up.addEventListener("click", () => this.move(index, -1, ".move-up"));
    const down = button("Move down", "button secondary small move-down", `Move criterion ${index + 1} down`);
    down.disabled = index === this.criteria.length - 1;
    down.addEventListener("click", () => this.move(index, 1, ".move-down"));
    const remove = button("Remove criterion", "button secondary small danger", `Remove criterion ${index + 1}`);
    remove.addEventListener("click", () => {
      this.criteria.splice(index, 1);
      this.render("#rubric-add");
    });
    actions.append(addLevel, up, down, remove);
    li.append(head, levels, actions);
    return li;
  }

  move(index, step, focusClass) {
    const to = index + step;
    const [c] = this.criteria.splice(index, 1);
    this.criteria.splice(to, 0, c);
    this.render(`[data-criterion="${to}"] ${focusClass}`);
  }

  async save(saveButton, problem) {
    problem.replaceChildren();
    if (!this.criteria.length) {
      problem.append(el("p", "Add a criterion first (or remove the rubric)."));
      return;
    }
    const body = {
      criteria: this.criteria.map((c) => ({
        title: c.title.trim(),
        description: c.description.trim(),
        levels: c.levels.map((l) => ({ title: l.title.trim(), points: Number(l.points) })),
      })),
    };
    saveButton.disabled = true;
    try {
      const saved = await api("PUT", `/lessons/${this.lesson.id}/rubric`, body);
      this.exists = true;
      say(this.messages, `The rubric is saved (at most ${fmt(saved.max_points)} points).`, "success");
      this.render();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      problem.append(el("p", problemText(error)));
    } finally {
      saveButton.disabled = false;
    }
  }

  async remove(problem) {
    if (!window.confirm("Remove the rubric?")) return;
    try {
      await api("DELETE", `/lessons/${this.lesson.id}/rubric`);
      this.exists = false;
      this.criteria = [];
      say(this.messages, "The rubric is removed.", "success");
      this.render();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      problem.append(el("p", problemText(error)));
    }
  }
}
