// The gradebook's set-up below its table (gradebook.js): weighted categories (name, weight,
// drop the lowest N; add, change, remove), the items' category and extra credit, manual items,
// the letter scale and pass mark (GET|PUT /courses/{id}/gradebook/settings), and the override
// history (GET /courses/{id}/gradebook/audit). ``onChange()`` redraws the table.

import { ApiError, api } from "./api.js";
import { button, el, problemText } from "./ui.js";

const fmt = (n) => `${Number(Number(n).toFixed(2))}`;
let ids = 0;

function field(text, control, hint) {
  const wrap = el("div", null, "field");
  control.id ||= `gb-${++ids}`;
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

function number(value, min, max) {
  const node = document.createElement("input");
  node.type = "number";
  node.step = "any";
  if (min !== undefined) node.min = String(min);
  if (max !== undefined) node.max = String(max);
  node.value = value ?? "";
  return node;
}

function text(value, maxLength = 200) {
  const node = document.createElement("input");
  node.type = "text";
  node.maxLength = maxLength;
  node.value = value ?? "";
  return node;
}

function card(titleText, id) {
  const section = el("section", null, "card gradebook-setup");
  const title = el("h2", titleText);
  title.id = id;
  section.setAttribute("aria-labelledby", id);
  const problem = el("div", null, "messages error");
  problem.setAttribute("role", "alert");
  section.append(title);
  return { section, problem };
}

export class GradebookSetup {
  constructor(course, onChange) {
    this.course = course;
    this.onChange = onChange;
    this.node = el("div", null, "gradebook-setup-parts");
    this.editor = ["owner", "co_instructor", "admin"].includes(course.your_role);
  }

  async load() {
    const base = `/courses/${this.course.id}/gradebook`;
    const [categories, items, settings] = await Promise.all([
      api("GET", `${base}/categories`),
      api("GET", `${base}/items`),
      api("GET", `${base}/settings`),
    ]);
    this.categories = categories.items;
    this.items = items.items;
    this.settings = settings;
    this.node.replaceChildren(this.categoryCard(), this.itemCard(), this.settingsCard(), this.auditCard());
  }

  async act(problem, action, reload = true) {
    problem.replaceChildren();
    try {
      await action();
      if (reload) await this.load();
      await this.onChange();
      return true;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      problem.append(el("p", problemText(error)));
      return false;
    }
  }

  categoryCard() {
    const { section, problem } = card("Categories and weights", "gb-categories-title");
    const total = this.categories.reduce((sum, c) => sum + c.weight_percent, 0);
    section.append(el("p", this.categories.length ? `Weights add up to ${fmt(total)} %.` : "No categories: every item counts by its points.", "hint"));
    const list = el("ul", null, "gradebook-categories");
    for (const c of this.categories) {
      const li = el("li", null, "inline-form gradebook-category-row");
      li.dataset.categoryId = c.id;
      const name = text(c.name, 100);
      const weight = number(c.weight_percent, 0, 100);
      const drop = number(c.drop_lowest, 0);
      drop.step = "1";
      const save = button("Save", "button small", `Save category ${c.name}`);
      const remove = button("Remove", "button secondary small danger", `Remove category ${c.name}`);
      save.addEventListener("click", () =>
        this.act(problem, () =>
          api("PATCH", `/gradebook/categories/${c.id}`, {
            name: name.value.trim(),
            weight_percent: Number(weight.value),
            drop_lowest: Number(drop.value || 0),
          }),
        ),
      );
      remove.addEventListener("click", () => {
        if (window.confirm(`Remove the category ${c.name}? Its items stay, uncategorised.`)) {
          this.act(problem, () => api("DELETE", `/gradebook/categories/${c.id}`));
        }
      });
      li.append(field(`Name of ${c.name}`, name), field(`Weight of ${c.name} (%)`, weight), field(`Drop lowest in ${c.name}`, drop));
      if (this.editor) li.append(save, remove);
      list.append(li);
    }
    section.append(list);
    if (this.editor) {
      const form = el("form", null, "inline-form");
      form.noValidate = true;
      const name = text("", 100);
      const weight = number("", 0, 100);
      const add = el("button", "Add the category", "button small");
      add.type = "submit";
      form.append(field("New category", name), field("Its weight (%)", weight), add);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!name.value.trim() || weight.value === "") {
          problem.replaceChildren(el("p", "Give the category a name and a weight."));
          return;
        }
        this.act(problem, () =>
          api("POST", `/courses/${this.course.id}/gradebook/categories`, {
            name: name.value.trim(),
            weight_percent: Number(weight.value),
          }),
        );
      });
      section.append(form);
    }
    section.append(problem);
    return section;
  }

  itemCard() {
    const { section, problem } = card("Items", "gb-items-title");
    const list = el("ul", null, "gradebook-items");
    for (const item of this.items) {
      const li = el("li", null, "inline-form gradebook-item-row");
      li.dataset.itemId = item.id;
      li.append(el("span", `${item.title} (${item.kind}, / ${fmt(item.max_points)})`, "gradebook-item-name"));
      const category = document.createElement("select");
      const none = el("option", "No category");
      none.value = "";
      category.append(none);
      for (const c of this.categories) {
        const option = el("option", c.name);
        option.value = c.id;
        category.append(option);
      }
      category.value = item.category_id || "";
      const extra = document.createElement("input");
      extra.type = "checkbox";
      extra.checked = item.extra_credit;
      const extraLabel = el("label", null, "check");
      extraLabel.append(extra, " Extra credit");
      extra.setAttribute("aria-label", `${item.title} is extra credit`);
      li.append(field(`Category of ${item.title}`, category), extraLabel);
      if (this.editor) {
        const save = button("Save", "button small", `Save item ${item.title}`);
        save.addEventListener("click", () =>
          this.act(problem, () =>
            api("PATCH", `/gradebook/items/${item.id}`, {
              category_id: category.value || null,
              extra_credit: extra.checked,
            }),
          ),
        );
        li.append(save);
        if (item.kind === "manual" || item.kind === "attendance") {
          const remove = button("Remove", "button secondary small danger", `Remove item ${item.title}`);
          remove.addEventListener("click", () => {
            if (window.confirm(`Remove ${item.title} and its scores?`)) {
              this.act(problem, () => api("DELETE", `/gradebook/items/${item.id}`));
            }
          });
          li.append(remove);
        }
      }
      list.append(li);
    }
    if (!this.items.length) list.append(el("li", "No graded items yet.", "muted"));
    section.append(list);
    if (this.editor) {
      const form = el("form", null, "inline-form");
      form.noValidate = true;
      const title = text("");
      const max = number(100, 0.01);
      const add = el("button", "Add a manual item", "button small");
      add.type = "submit";
      form.append(field("Manual item title", title), field("Out of (points)", max), add);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!title.value.trim()) {
          problem.replaceChildren(el("p", "Give the item a title."));
          return;
        }
        this.act(problem, () =>
          api("POST", `/courses/${this.course.id}/gradebook/items`, {
            title: title.value.trim(),
            max_points: Number(max.value || 100),
          }),
        );
      });
      section.append(form);
    }
    section.append(problem);
    return section;
  }

  settingsCard() {
    const { section, problem } = card("Letters and pass mark", "gb-settings-title");
    const s = this.settings;
    const scale = text(s.letter_scale.map((l) => `${l.letter} ${fmt(l.min_percent)}`).join(", "), 500);
    const passing = number(s.passing_percent, 0, 100);
    const requires = document.createElement("input");
    requires.type = "checkbox";
    requires.checked = s.requires_passing_grade;
    const requiresLabel = el("label", null, "check");
    requiresLabel.append(requires, " Certificates need a passing grade");
    const save = button("Save letters and pass mark", "button small");
    save.addEventListener("click", () => {
      const letters = scale.value
        .split(",")
        .map((part) => part.trim().split(/\s+/))
        .filter((p) => p[0])
        .map(([letter, min]) => ({ letter, min_percent: Number(min) }));
      this.act(problem, () =>
        api("PUT", `/courses/${this.course.id}/gradebook/settings`, {
          letter_scale: letters,
          passing_percent: passing.value === "" ? null : Number(passing.value),
          requires_passing_grade: requires.checked,
        }),
      );
    });
    section.append(
      field("Letter scale", scale, "Each letter and the percent it starts at, e.g. A 90, B 80, C 70, D 60, F 0."),
      field("Pass mark (%)", passing, "Empty: no pass mark."),
      requiresLabel,
    );
    if (this.editor) section.append(save);
    section.append(problem);
    return section;
  }

  auditCard() {
    const { section, problem } = card("Override history", "gb-audit-title");
    const list = el("ol", null, "gradebook-audit");
    const show = button("Show the override history", "button secondary small");
    show.setAttribute("aria-expanded", "false");
    show.addEventListener("click", async () => {
      if (show.getAttribute("aria-expanded") === "true") {
        list.replaceChildren();
        show.setAttribute("aria-expanded", "false");
        return;
      }
      try {
        const { items } = await api("GET", `/courses/${this.course.id}/gradebook/audit`);
        list.replaceChildren(
          ...items.map((e) => {
            const change = e.new_points === null ? "removed" : `${e.old_points === null ? "—" : fmt(e.old_points)} → ${fmt(e.new_points)}`;
            const who = e.student ? e.student.display_name : "a former student";
            return el("li", `${new Date(e.changed_at).toLocaleString()}: ${e.item_title}, ${who}: ${change} (${e.reason})`);
          }),
        );
        if (!items.length) list.append(el("li", "No overrides yet.", "muted"));
        show.setAttribute("aria-expanded", "true");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        problem.replaceChildren(el("p", problemText(error)));
      }
    });
    section.append(show, list, problem);
    return section;
  }
}
