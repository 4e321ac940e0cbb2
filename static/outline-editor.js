// The course editor's outline: modules (add, rename, delete) and lessons (add, edit, delete),
// reordered by HTML5 drag and drop or by keyboard-accessible Move up / Move down buttons.
// Every move sends one POST /courses/{id}/reorder step ({lesson_id?, module_id, position}) and
// the outline is re-rendered from the server's answer, so the page never guesses the order.

import { api } from "./api.js";
import { lessonMediaPanel } from "./lesson-media.js";
import {
  button,
  el,
  fromLocalInput,
  problemText,
  say,
  sayProblem,
  toLocalInput,
} from "./ui.js";

const KINDS = {
  text: "Text",
  video: "Video",
  file: "File",
  link: "Link",
  quiz: "Quiz",
  assignment: "Assignment",
};
const EDITABLE_KINDS = ["text", "video", "file", "link", "quiz", "assignment"];

function field(labelText, input, hint) {
  const wrap = el("div", null, "field");
  const label = el("label", labelText);
  input.id ||= `f-${Math.random().toString(36).slice(2)}`;
  label.htmlFor = input.id;
  wrap.append(label, input);
  if (hint) {
    const p = el("p", hint, "hint");
    p.id = `${input.id}-hint`;
    input.setAttribute("aria-describedby", p.id);
    wrap.append(p);
  }
  return wrap;
}

function input(type, name, value) {
  const node = document.createElement("input");
  node.type = type;
  node.name = name;
  if (type === "checkbox") node.checked = Boolean(value);
  else node.value = value ?? "";
  return node;
}

export const TEXT_FORMATS = { markdown: "Markdown", html: "HTML" };

/** A Markdown/HTML choice for an author's text (its ``name``: body_format, description_format). */
export function formatSelect(name, value) {
  const select = document.createElement("select");
  select.name = name;
  for (const [format, label] of Object.entries(TEXT_FORMATS)) {
    const option = el("option", label);
    option.value = format;
    select.append(option);
  }
  select.value = value in TEXT_FORMATS ? value : "markdown";
  return select;
}

/**
 * What the author wrote and its format, as the server returns them to editors (``*_source``,
 * ``*_format``); the sanitised HTML as HTML if there is no source.
 */
export function authorText(source, format, html) {
  if (source != null) return { text: source, format: format || "markdown" };
  return { text: html || "", format: "html" };
}

function kindSelect(value) {
  const select = document.createElement("select");
  select.name = "kind";
  for (const kind of EDITABLE_KINDS) {
    const option = el("option", KINDS[kind]);
    option.value = kind;
    select.append(option);
  }
  select.value = value;
  return select;
}

export class OutlineEditor {
  constructor(courseId, root, messages) {
    this.courseId = courseId;
    this.root = root;
    this.messages = messages;
    this.status = document.getElementById("outline-status");
    this.modules = [];
    this.open = new Set(); // lessons whose edit panel is open
    this.panels = new Map(); // lesson id -> its edit panel (kept across re-renders)
    this.drag = null;
  }

  async load() {
    try {
      this.render(await api("GET", `/courses/${this.courseId}/outline`));
    } catch (error) {
      sayProblem(this.messages, error, "The outline cannot be loaded: ");
    }
  }

  /** Re-renders the modules and lessons from an Outline answer of the server. */
  render(outline) {
    this.modules = outline.modules;
    this.root.replaceChildren(...this.modules.map((m, i) => this.moduleItem(m, i)));
  }

  // --- moves ----------------------------------------------------------------------------------

  async move(step, focusSelector, announce) {
    this.root.setAttribute("aria-busy", "true");
    try {
      const outline = await api("POST", `/courses/${this.courseId}/reorder`, step);
      this.render(outline);
      this.status.textContent = announce;
      const target = focusSelector && this.root.querySelector(focusSelector);
      if (target && !target.disabled) target.focus();
      else if (target) target.closest("[tabindex]")?.focus();
    } catch (error) {
      sayProblem(this.messages, error, "The move failed: ");
      await this.load();
    } finally {
      this.root.removeAttribute("aria-busy");
    }
  }

  moveLesson(lessonId, moduleId, position, focusSelector) {
    const lesson = this.findLesson(lessonId);
    const module = this.modules.find((m) => m.id === moduleId);
    return this.move(
      { lesson_id: lessonId, module_id: moduleId, position },
      focusSelector,
      `${lesson ? lesson.title : "Lesson"} moved to ${module ? module.title : "module"}, ` +
        `position ${position + 1}.`,
    );
  }

  moveModule(moduleId, position, focusSelector) {
    const module = this.modules.find((m) => m.id === moduleId);
    return this.move(
      { module_id: moduleId, position },
      focusSelector,
      `${module ? module.title : "Module"} moved to position ${position + 1}.`,
    );
  }

  findLesson(id) {
    for (const module of this.modules) {
      const index = module.lessons.findIndex((l) => l.id === id);
      if (index >= 0) return { ...module.lessons[index], module, index };
    }
    return null;
  }

  /** Keyboard move: one place up or down, crossing into the neighbouring module at its edge. */
  stepLesson(lessonId, direction) {
    const found = this.findLesson(lessonId);
    if (!found) return;
    const m = this.modules.indexOf(found.module);
    const focus = `[data-lesson-id="${lessonId}"] .move-${direction}`;
    if (direction === "up") {
      if (found.index > 0) this.moveLesson(lessonId, found.module.id, found.index - 1, focus);
      else if (m > 0) {
        const previous = this.modules[m - 1];
        this.moveLesson(lessonId, previous.id, previous.lessons.length, focus);
      }
    } else if (found.index < found.module.lessons.length - 1) {
      this.moveLesson(lessonId, found.module.id, found.index + 1, focus);
    } else if (m < this.modules.length - 1) {
      this.moveLesson(lessonId, this.modules[m + 1].id, 0, focus);
    }
  }

  // --- drag and drop --------------------------------------------------------------------------

  startDrag(event, kind, id) {
    this.drag = { kind, id };
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", `${kind}:${id}`);
    event.currentTarget.classList.add("dragging");
    event.stopPropagation();
  }

  endDrag() {
    this.drag = null;
    for (const node of this.root.querySelectorAll(".dragging, .drop-before, .drop-after, .drop-into")) {
      node.classList.remove("dragging", "drop-before", "drop-after", "drop-into");
    }
  }

  static after(event, node) {
    const rect = node.getBoundingClientRect();
    return event.clientY > rect.top + rect.height / 2;
  }

  /** Wires dragover/dragleave/drop on ``node`` for drags of ``kind``; ``onDrop(after)``. */
  dropTarget(node, kind, onDrop, into = false) {
    node.addEventListener("dragover", (event) => {
      if (!this.drag || this.drag.kind !== kind) return;
      event.preventDefault();
      event.stopPropagation();
      event.dataTransfer.dropEffect = "move";
      if (into) {
        node.classList.add("drop-into");
      } else {
        const after = OutlineEditor.after(event, node);
        node.classList.toggle("drop-after", after);
        node.classList.toggle("drop-before", !after);
      }
    });
    node.addEventListener("dragleave", () => {
      node.classList.remove("drop-before", "drop-after", "drop-into");
    });
    node.addEventListener("drop", (event) => {
      if (!this.drag || this.drag.kind !== kind) return;
      event.preventDefault();
      event.stopPropagation();
      const dragged = this.drag.id;
      const after = into ? true : OutlineEditor.after(event, node);
      this.endDrag();
      onDrop(dragged, after);
    });
  }

  // --- modules --------------------------------------------------------------------------------

  moduleItem(module, index) {
    const li = el("li", null, "editor-module");
    li.dataset.moduleId = module.id;
    li.tabIndex = -1;
    const head = el("div", null, "module-head");
    head.draggable = true;
    head.addEventListener("dragstart", (e) => this.startDrag(e, "module", module.id));
    head.addEventListener("dragend", () => this.endDrag());
    const title = el("h3", module.title, "module-title");
    title.id = `module-${module.id}`;
    li.setAttribute("aria-labelledby", title.id);
    const actions = el("div", null, "row-actions");
    const up = button("Move up", "button secondary small move-up", `Move module ${module.title} up`);
    up.disabled = index === 0;
    up.addEventListener("click", () =>
      this.moveModule(module.id, index - 1, `[data-module-id="${module.id}"] .module-head .move-up`),
    );
    const down = button(
      "Move down",
      "button secondary small move-down",
      `Move module ${module.title} down`,
    );
    down.disabled = index === this.modules.length - 1;
    down.addEventListener("click", () =>
      this.moveModule(
        module.id,
        index + 1,
        `[data-module-id="${module.id}"] .module-head .move-down`,
      ),
    );
    const rename = button("Rename", "button secondary small", `Rename module ${module.title}`);
    rename.addEventListener("click", () => this.renameForm(li, head, module));
    const remove = button("Delete", "button secondary small danger", `Delete module ${module.title}`);
    remove.addEventListener("click", () => this.deleteModule(module));
    actions.append(up, down, rename, remove);
    head.append(el("span", "⋮⋮", "drag-handle"), title, actions);
    this.dropTarget(li, "module", (dragged, after) => {
      const others = this.modules.filter((m) => m.id !== dragged);
      const at = others.findIndex((m) => m.id === module.id);
      if (at >= 0) this.moveModule(dragged, at + (after ? 1 : 0));
    });

    const lessons = el("ol", null, "editor-lessons");
    lessons.dataset.moduleId = module.id;
    lessons.setAttribute("aria-labelledby", title.id);
    lessons.append(...module.lessons.map((l, i) => this.lessonItem(module, l, i)));
    this.dropTarget(
      lessons,
      "lesson",
      (dragged) => {
        const rest = module.lessons.filter((l) => l.id !== dragged);
        this.moveLesson(dragged, module.id, rest.length);
      },
      true,
    );
    li.append(head, lessons, this.addLessonForm(module));
    return li;
  }

  renameForm(li, head, module) {
    const form = el("form", null, "inline-form rename-form");
    const name = input("text", "title", module.title);
    form.append(field("Module title", name));
    const save = el("button", "Save", "button small");
    save.type = "submit";
    const cancel = button("Cancel", "button secondary small");
    cancel.addEventListener("click", () => {
      form.remove();
      head.hidden = false;
    });
    form.append(save, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", `/modules/${module.id}`, { title: name.value.trim() });
        say(this.messages, "Module renamed.", "success");
        await this.load();
      } catch (error) {
        sayProblem(this.messages, error, "The module could not be renamed: ");
      }
    });
    head.hidden = true;
    li.prepend(form);
    name.focus();
  }

  async deleteModule(module) {
    if (!window.confirm(`Delete the module "${module.title}" and its lessons?`)) return;
    try {
      await api("DELETE", `/modules/${module.id}`);
      say(this.messages, `Module ${module.title} deleted.`, "success");
      await this.load();
    } catch (error) {
      sayProblem(this.messages, error, "The module could not be deleted: ");
    }
  }

  async addModule(form) {
    const title = form.elements.namedItem("title");
    if (!title.value.trim()) {
      say(this.messages, "Give the module a title.", "error");
      title.focus();
      return;
    }
    try {
      const module = await api("POST", `/courses/${this.courseId}/modules`, {
        title: title.value.trim(),
      });
      title.value = "";
      say(this.messages, `Module ${module.title} added.`, "success");
      await this.load();
    } catch (error) {
      sayProblem(this.messages, error, "The module could not be added: ");
    }
  }

  // --- lessons --------------------------------------------------------------------------------

  addLessonForm(module) {
    const form = el("form", null, "inline-form add-lesson");
    form.noValidate = true;
    const title = input("text", "title", "");
    title.id = `new-lesson-${module.id}`;
    const kind = kindSelect("text");
    kind.id = `new-kind-${module.id}`;
    const url = input("url", "url", "");
    url.id = `new-url-${module.id}`;
    const urlField = field("Link address", url);
    urlField.hidden = true;
    kind.addEventListener("change", () => {
      urlField.hidden = kind.value !== "link";
    });
    const add = el("button", "Add lesson", "button small");
    add.type = "submit";
    form.append(field("New lesson title", title), field("Kind", kind), urlField, add);
    form.setAttribute("aria-label", `Add a lesson to ${module.title}`);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!title.value.trim()) {
        say(this.messages, "Give the lesson a title.", "error");
        title.focus();
        return;
      }
      const body = { title: title.value.trim(), kind: kind.value };
      if (kind.value === "link") body.url = url.value.trim();
      try {
        const lesson = await api("POST", `/modules/${module.id}/lessons`, body);
        say(this.messages, `Lesson ${lesson.title} added.`, "success");
        this.open.add(lesson.id);
        await this.load();
        this.root.querySelector(`[data-lesson-id="${lesson.id}"] input[name=title]`)?.focus();
      } catch (error) {
        sayProblem(this.messages, error, "The lesson could not be added: ");
      }
    });
    return form;
  }

  lessonItem(module, lesson, index) {
    const li = el("li", null, "editor-lesson");
    li.dataset.lessonId = lesson.id;
    li.tabIndex = -1;
    const row = el("div", null, "lesson-row");
    row.draggable = true;
    row.addEventListener("dragstart", (e) => this.startDrag(e, "lesson", lesson.id));
    row.addEventListener("dragend", () => this.endDrag());
    const name = el("span", lesson.title, "lesson-name");
    const notes = [KINDS[lesson.kind] || lesson.kind];
    if (lesson.estimated_minutes) notes.push(`${lesson.estimated_minutes} min`);
    if (!lesson.is_required) notes.push("optional");
    if (lesson.release_at) notes.push(`from ${new Date(lesson.release_at).toLocaleString()}`);
    const info = el("span", null, "lesson-info");
    info.append(el("span", "⋮⋮", "drag-handle"), name, el("span", ` · ${notes.join(" · ")}`, "muted"));
    if (lesson.is_preview) info.append(el("span", "Preview", "badge"));

    const m = this.modules.indexOf(module);
    const first = index === 0 && m === 0;
    const last = index === module.lessons.length - 1 && m === this.modules.length - 1;
    const actions = el("div", null, "row-actions");
    const up = button("Move up", "button secondary small move-up", `Move ${lesson.title} up`);
    up.disabled = first;
    up.addEventListener("click", () => this.stepLesson(lesson.id, "up"));
    const down = button("Move down", "button secondary small move-down", `Move ${lesson.title} down`);
    down.disabled = last;
    down.addEventListener("click", () => this.stepLesson(lesson.id, "down"));
    const edit = button("Edit", "button secondary small", `Edit ${lesson.title}`);
    edit.setAttribute("aria-expanded", String(this.open.has(lesson.id)));
    const remove = button("Delete", "button secondary small danger", `Delete ${lesson.title}`);
    remove.addEventListener("click", () => this.deleteLesson(lesson));
    actions.append(up, down, edit, remove);
    row.append(info, actions);
    li.append(row);

    this.dropTarget(li, "lesson", (dragged, after) => {
      const rest = module.lessons.filter((l) => l.id !== dragged);
      const at = rest.findIndex((l) => l.id === lesson.id);
      if (at >= 0) this.moveLesson(dragged, module.id, at + (after ? 1 : 0));
    });

    const showPanel = () => {
      let panel = this.panels.get(lesson.id);
      if (!panel) {
        panel = this.lessonPanel(lesson);
        this.panels.set(lesson.id, panel);
      }
      li.append(panel);
      panel.querySelector(".video-panel")?.resume?.();
    };
    if (this.open.has(lesson.id)) showPanel();
    edit.addEventListener("click", () => {
      if (this.open.has(lesson.id)) {
        this.open.delete(lesson.id);
        this.panels.get(lesson.id)?.remove();
        edit.setAttribute("aria-expanded", "false");
      } else {
        this.open.add(lesson.id);
        showPanel();
        edit.setAttribute("aria-expanded", "true");
        this.panels.get(lesson.id).querySelector("input[name=title]").focus();
      }
    });
    return li;
  }

  lessonPanel(lesson) {
    const panel = el("div", null, "lesson-panel");
    const form = el("form", null, "lesson-form");
    form.noValidate = true;
    form.setAttribute("aria-label", `Edit ${lesson.title}`);
    const title = input("text", "title", lesson.title);
    const kind = kindSelect(lesson.kind);
    const body = document.createElement("textarea");
    body.name = "body";
    body.rows = 5;
    // The author's own text in its format (the outline gives it to editors), not the HTML.
    const written = authorText(lesson.body_source, lesson.body_format, lesson.body_html);
    body.value = written.text;
    const bodyFormat = formatSelect("body_format", written.format);
    const url = input("url", "url", lesson.url || "");
    const urlField = field("Link address", url);
    urlField.hidden = lesson.kind !== "link";
    kind.addEventListener("change", () => {
      urlField.hidden = kind.value !== "link";
    });
    const minutes = input("number", "estimated_minutes", lesson.estimated_minutes ?? "");
    minutes.min = "0";
    const release = input("datetime-local", "release_at", toLocalInput(lesson.release_at));
    const preview = input("checkbox", "is_preview", lesson.is_preview);
    const required = input("checkbox", "is_required", lesson.is_required);
    const checks = el("div", null, "checks");
    for (const [box, text] of [
      [preview, "Free preview (visitors may open it)"],
      [required, "Required for completion"],
    ]) {
      const label = el("label", null, "check");
      label.append(box, ` ${text}`);
      checks.append(label);
    }
    const save = el("button", "Save lesson", "button small");
    save.type = "submit";
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    form.append(
      field("Title", title),
      field("Kind", kind),
      field("Text", body, "Markdown or HTML (say which below); shown above the video or file."),
      field("Written in", bodyFormat),
      urlField,
      field("Estimated minutes", minutes),
      field("Release date", release, "Empty: available at once."),
      checks,
      save,
      problem,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.replaceChildren();
      const change = {
        title: title.value.trim(),
        kind: kind.value,
        url: kind.value === "link" ? url.value.trim() || null : null,
        estimated_minutes: minutes.value === "" ? null : Number(minutes.value),
        release_at: fromLocalInput(release.value),
        is_preview: preview.checked,
        is_required: required.checked,
      };
      if (body.value !== written.text || bodyFormat.value !== written.format) {
        change.body = body.value;
        change.body_format = bodyFormat.value;
      }
      save.disabled = true;
      try {
        const saved = await api("PATCH", `/lessons/${lesson.id}`, change);
        say(this.messages, `Lesson ${saved.title} saved.`, "success");
        this.panels.delete(lesson.id);
        await this.load();
      } catch (error) {
        problem.append(el("p", problemText(error)));
      } finally {
        save.disabled = false;
      }
    });
    panel.append(form);
    if (lesson.kind === "file" || lesson.kind === "video") {
      panel.append(lessonMediaPanel(lesson));
    }
    if (lesson.kind === "quiz" || lesson.kind === "assignment") {
      // Their questions, brief, rubric and grading have pages of their own.
      const links = el("p", null, "lesson-graded-links");
      const settings = el("a", lesson.kind === "quiz" ? "Build the quiz" : "Assignment settings and rubric", "button secondary small");
      settings.href = `/teach/lessons/${lesson.id}/settings`;
      const grading = el("a", "Grading queue", "button secondary small");
      grading.href = `/teach/lessons/${lesson.id}/grading`;
      links.append(settings, " ", grading);
      panel.append(links);
    }
    return panel;
  }

  async deleteLesson(lesson) {
    if (!window.confirm(`Delete the lesson "${lesson.title}"?`)) return;
    try {
      await api("DELETE", `/lessons/${lesson.id}`);
      this.open.delete(lesson.id);
      this.panels.delete(lesson.id);
      say(this.messages, `Lesson ${lesson.title} deleted.`, "success");
      await this.load();
    } catch (error) {
      sayProblem(this.messages, error, "The lesson could not be deleted: ");
    }
  }
}
