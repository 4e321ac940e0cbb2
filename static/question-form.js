// The form that adds or edits one question of a bank (static/question-banks.js): the fields all
// types share (type, prompt, points, tags, feedback) and the type's own part
// (static/question-form-types.js). Saving POSTs /question-banks/{id}/questions or PUTs
// /questions/{id}; the server validates, and its field errors (problem+json ``errors``, each
// with a ``loc``) are listed at the top of the form and shown next to the field they name.

import { ApiError, api } from "./api.js";
import { button, el } from "./ui.js";
import { BUILDERS, TYPE_NAMES } from "./question-form-types.js";
import { at, describe, field, input, messageOf, select, textarea } from "./question-form-rows.js";

const FORMATS = { markdown: "Markdown", html: "HTML" };

export class QuestionForm {
  /**
   * ``bank``: the bank; ``question``: the QuestionOut being edited, or null for a new one;
   * ``onSaved(questionOut)`` and ``onCancel()`` are called when the form is done.
   */
  constructor({ bank, question, onSaved, onCancel }) {
    this.bank = bank;
    this.question = question;
    this.onSaved = onSaved;
    this.onCancel = onCancel;
    this.node = el("form", null, "card question-form");
    this.node.id = "question-form";
    this.node.noValidate = true;
    this.render();
  }

  render() {
    const q = this.question ? this.question.question : {};
    const title = el("h2", this.question ? "Edit the question" : "Add a question");
    title.id = "question-form-title";
    title.tabIndex = -1;
    this.node.setAttribute("aria-labelledby", title.id);
    this.problems = el("div", null, "qf-problems");
    this.problems.id = "question-problems";
    this.problems.setAttribute("role", "alert");

    this.type = select("type", TYPE_NAMES, q.type || "single_choice");
    this.type.addEventListener("change", () => {
      this.clearProblems();
      this.showType({});
    });
    this.prompt = at(textarea("prompt", q.prompt, 4), "prompt");
    this.format = at(select("prompt_format", FORMATS, q.prompt_format || "markdown"), "prompt_format");
    this.points = at(input("number", "points", q.points ?? 1), "points");
    this.points.min = "0";
    this.tags = at(input("text", "tags", (q.tags || []).join(", ")), "tags");
    this.feedback = at(textarea("feedback", q.feedback, 2), "feedback");

    this.typePart = el("div", null, "qf-type-part");
    const save = el("button", this.question ? "Save the question" : "Add the question", "button");
    save.type = "submit";
    const cancel = button("Cancel");
    cancel.addEventListener("click", () => this.onCancel());
    const actions = el("div", null, "form-actions");
    actions.append(save, cancel);

    this.node.append(
      title,
      this.problems,
      field("Question type", this.type),
      field("Prompt", this.prompt, "Markdown (or HTML). A fill-in-the-blank prompt marks each blank as [[id]]."),
      field("Prompt format", this.format),
      this.typePart,
      field("Points", this.points),
      field("Tags (comma-separated)", this.tags),
      field("Feedback (shown with the result)", this.feedback),
      actions,
    );
    this.node.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save(save);
    });
    this.showType(q);
  }

  showType(q) {
    this.part = BUILDERS[this.type.value](q, { prompt: () => this.prompt.value });
    this.typePart.replaceChildren(this.part.node);
  }

  /** The request body (the server validates it). */
  read() {
    const tags = this.tags.value
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const points = this.points.value.trim();
    return {
      type: this.type.value,
      prompt: this.prompt.value,
      prompt_format: this.format.value,
      points: points === "" ? 1 : Number(points),
      feedback: this.feedback.value,
      tags,
      ...this.part.read(),
    };
  }

  async save(saveButton) {
    const body = this.read();
    this.clearProblems();
    saveButton.disabled = true;
    try {
      const saved = this.question
        ? await api("PUT", `/questions/${this.question.id}`, body)
        : await api("POST", `/question-banks/${this.bank.id}/questions`, body);
      this.onSaved(saved, Boolean(this.question));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.showProblems(error, body.type);
    } finally {
      saveButton.disabled = false;
    }
  }

  clearProblems() {
    this.problems.replaceChildren();
    for (const node of this.node.querySelectorAll(".field-error")) node.remove();
    for (const node of this.node.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  /** The server's problem: a summary, and each field error next to the control it names. */
  showProblems(error, type) {
    const intro = el("p", "The question was not saved: fix the problems below.");
    if (!error.fieldErrors.length) intro.textContent = `The question was not saved. ${describe(error)}`;
    const list = el("ul");
    for (const problem of error.fieldErrors) {
      const loc = (Array.isArray(problem.loc) ? problem.loc : []).filter((p) => p !== "body").map(String);
      if (loc[0] === type) loc.shift(); // the union's tag
      const where = loc.join(".");
      const text = messageOf(problem);
      list.append(el("li", where ? `${where}: ${text}` : text));
      this.markField(loc, text);
    }
    this.problems.append(intro);
    if (list.children.length) this.problems.append(list);
    this.problems.scrollIntoView?.({ block: "nearest" });
  }

  markField(loc, message) {
    for (let n = loc.length; n > 0; n -= 1) {
      const target = this.node.querySelector(`[data-loc="${CSS.escape(loc.slice(0, n).join("."))}"]`);
      if (!target) continue;
      const note = el("p", message, "field-error");
      if (target.tagName === "FIELDSET") {
        target.querySelector("legend").after(note);
        return;
      }
      target.setAttribute("aria-invalid", "true");
      note.id = `${target.id || "qf"}-error`;
      target.setAttribute("aria-describedby", note.id);
      (target.closest(".field") || target.closest("label") || target).after(note);
      return;
    }
  }

  focus() {
    this.node.querySelector("#question-form-title").focus();
  }
}
