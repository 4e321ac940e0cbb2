// Building blocks of the question form (static/question-form.js): labelled fields, and editable
// lists of rows (options, blanks, pairs, items) that can be added, moved and removed from the
// keyboard. Every control carries ``data-loc``, the path of its field in the request body, so
// the server's field errors (problem+json ``errors[].loc``) can be shown next to it.

import { button, el } from "./ui.js";

let ids = 0;
export const uid = (prefix) => `${prefix}-${++ids}`;

/** A labelled field: ``control`` gets an id and a <label> (and a hint, described by). */
export function field(labelText, control, hint) {
  const wrap = el("div", null, "field");
  control.id ||= uid("qf");
  const label = el("label", labelText);
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

export function input(type, name, value) {
  const node = document.createElement("input");
  node.type = type;
  node.name = name;
  if (type === "checkbox" || type === "radio") node.checked = Boolean(value);
  else node.value = value ?? "";
  if (type === "number") node.step = "any";
  return node;
}

export function textarea(name, value, rows = 3) {
  const node = document.createElement("textarea");
  node.name = name;
  node.rows = rows;
  node.value = value ?? "";
  return node;
}

export function select(name, options, value) {
  const node = document.createElement("select");
  node.name = name;
  for (const [key, text] of Object.entries(options)) {
    const option = el("option", text);
    option.value = key;
    node.append(option);
  }
  node.value = value;
  return node;
}

/** A checkbox (or radio) inside its own label. */
export function check(name, checked, text, type = "checkbox") {
  const box = input(type, name, checked);
  const label = el("label", null, "check");
  label.append(box, ` ${text}`);
  return { box, label };
}

/** A number input's value, or null when it is empty (not a number: sent as typed). */
export function numberOf(node) {
  const text = node.value.trim();
  if (!text) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

/** A key for a new row: ``prefix`` + the first number not in ``used``. */
export function freshId(prefix, used) {
  for (let n = 1; ; n += 1) {
    if (!used.has(`${prefix}${n}`)) return `${prefix}${n}`;
  }
}

/**
 * An editable list of rows in a fieldset. ``make(data)`` returns ``{node, read(index)}``; the
 * list adds the move up / move down / remove buttons and an "add" button.
 */
export class RowList {
  constructor({ legend, addText, what, loc, make, rows = [], min = 0 }) {
    this.make = make;
    this.what = what;
    this.min = min;
    this.rows = [];
    this.node = el("fieldset", null, "qf-rows");
    this.node.dataset.loc = loc;
    this.node.append(el("legend", legend));
    this.list = el("ol", null, "qf-row-list");
    const add = button(addText, "button secondary small qf-add");
    add.addEventListener("click", () => {
      const row = this.add({});
      row.node.querySelector("input, textarea, select")?.focus();
    });
    this.node.append(this.list, add);
    for (const data of rows) this.add(data);
  }

  add(data) {
    const row = this.make(data);
    const li = el("li", null, "qf-row");
    const actions = el("div", null, "row-actions");
    const up = button("Move up", "button secondary small move-up");
    const down = button("Move down", "button secondary small move-down");
    const remove = button("Remove", "button secondary small danger qf-remove");
    up.addEventListener("click", () => this.move(entry, -1, ".move-up"));
    down.addEventListener("click", () => this.move(entry, 1, ".move-down"));
    remove.addEventListener("click", () => {
      this.rows.splice(this.rows.indexOf(entry), 1);
      li.remove();
      this.refresh();
      this.node.querySelector(".qf-add").focus();
    });
    actions.append(up, down, remove);
    li.append(row.node, actions);
    const entry = { ...row, li, up, down, remove };
    this.rows.push(entry);
    this.list.append(li);
    this.refresh();
    return entry;
  }

  move(entry, step, focusSelector) {
    const index = this.rows.indexOf(entry);
    const target = index + step;
    if (target < 0 || target >= this.rows.length) return;
    this.rows.splice(index, 1);
    this.rows.splice(target, 0, entry);
    this.list.replaceChildren(...this.rows.map((r) => r.li));
    this.refresh();
    const again = entry.li.querySelector(focusSelector);
    (again && !again.disabled ? again : entry.li.querySelector("button:not([disabled])"))?.focus();
  }

  /** Numbers the rows' accessible names and enables the buttons that make sense. */
  refresh() {
    this.rows.forEach((row, index) => {
      const name = `${this.what} ${index + 1}`;
      row.up.disabled = index === 0;
      row.down.disabled = index === this.rows.length - 1;
      row.remove.disabled = this.rows.length <= this.min;
      row.up.setAttribute("aria-label", `Move ${name} up`);
      row.down.setAttribute("aria-label", `Move ${name} down`);
      row.remove.setAttribute("aria-label", `Remove ${name}`);
      row.li.setAttribute("aria-label", name);
    });
    this.onChange?.();
  }

  read() {
    return this.rows.map((row, index) => row.read(index));
  }
}

/** Marks ``control`` with the body path of its field (for the server's field errors). */
export function at(control, loc) {
  control.dataset.loc = loc;
  return control;
}

/** A field error's text (problem+json ``errors[].message``). */
export const messageOf = (problem) => problem.message || problem.msg || problem.type || "";

/** An ApiError as one line: the server's detail and each field error with its place. */
export function describe(error) {
  const fields = error.fieldErrors.map((e) => {
    const where = (Array.isArray(e.loc) ? e.loc : []).filter((p) => p !== "body").join(".");
    return where ? `${where}: ${messageOf(e)}` : messageOf(e);
  });
  const reference = error.status >= 500 && error.requestId ? ` (reference ${error.requestId})` : "";
  return `${error.message}${fields.length ? ` ${fields.join("; ")}.` : ""}${reference}`;
}
