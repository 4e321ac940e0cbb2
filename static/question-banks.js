// /teach/courses/{course id}/question-banks: a course's question banks for its staff. Its
// instructors create, rename and delete banks (POST /courses/{id}/question-banks, PATCH|DELETE
// /question-banks/{id}), add, edit and delete questions of every type (static/question-form.js),
// import a JSON export or a QTI 2.1 package or item (POST /question-banks/{id}/import and
// /import-qti) and export both (GET /question-banks/{id}/export and /export.qti). Teaching
// assistants see the banks and questions only.

import { API, ApiError, api } from "./api.js";
import { EDITOR_ROLES, STAFF_ROLES, body, fail, messages, refuse, segments, show } from "./page-shell.js";
import { QuestionForm } from "./question-form.js";
import { TYPE_NAMES } from "./question-form-types.js";
import { describe, field, input, select } from "./question-form-rows.js";
import { button, el, link, say } from "./ui.js";

const MAX_PAGES = 40;

/** A question's prompt as one short line of plain text (the author's source). */
function excerpt(question) {
  const text = (question.prompt || "").replace(/[#*_`>]/g, "").replace(/\s+/g, " ").trim();
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

const points = (n) => `${Number(Number(n).toFixed(2))} pt`;

/** Asks in place (two buttons) before something is deleted; focus goes to "Keep it". */
function confirmInline(opener, question, yesText, onYes) {
  const row = opener.closest("li");
  const open = row.querySelector(".confirm-inline");
  if (open) {
    open.querySelector("button:last-child").focus();
    return;
  }
  const box = el("div", null, "confirm-inline");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", question);
  const yes = button(yesText, "button danger small");
  const no = button("Keep it", "button secondary small");
  box.append(el("p", question), yes, no);
  row.append(box);
  no.focus();
  no.addEventListener("click", () => {
    box.remove();
    opener.focus();
  });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    await onYes();
    box.remove();
  });
}

class BankEditor {
  constructor(course) {
    this.course = course;
    this.canEdit = EDITOR_ROLES.has(course.your_role);
    this.banks = [];
    this.bank = null;
    this.questions = [];
  }

  async load() {
    const banksCard = el("section", null, "card qb-banks");
    const banksTitle = el("h2", "Banks");
    banksTitle.id = "banks-title";
    banksCard.setAttribute("aria-labelledby", banksTitle.id);
    this.bankList = el("ul", null, "qb-bank-list");
    this.bankList.id = "bank-list";
    banksCard.append(banksTitle, this.bankList);
    if (this.canEdit) banksCard.append(this.createForm());
    this.panel = el("section", null, "card qb-bank");
    this.panel.id = "bank-panel";
    this.panel.hidden = true;
    body().append(banksCard, this.panel);
    await this.refreshBanks();
  }

  createForm() {
    const form = el("form", null, "qb-create");
    form.id = "bank-create-form";
    const title = input("text", "title", "");
    title.required = true;
    title.maxLength = 200;
    const submit = el("button", "Create the bank", "button");
    submit.type = "submit";
    form.append(field("New bank title", title), submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!title.value.trim()) {
        say(messages, "Give the bank a title.", "error");
        title.focus();
        return;
      }
      try {
        const bank = await api("POST", `/courses/${this.course.id}/question-banks`, { title: title.value });
        title.value = "";
        await this.refreshBanks();
        await this.open(bank.id);
        say(messages, `The bank “${bank.title}” is created.`, "success");
      } catch (error) {
        say(messages, describe(error), "error");
      }
    });
    return form;
  }

  async refreshBanks() {
    const found = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const answer = await api("GET", `/courses/${this.course.id}/question-banks?${query}`);
      found.push(...answer.items);
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    this.banks = found;
    this.bankList.replaceChildren();
    if (!found.length) this.bankList.append(el("li", "This course has no question banks yet.", "muted"));
    for (const bank of found) this.bankList.append(this.bankRow(bank));
  }

  bankRow(bank) {
    const li = el("li", null, "qb-bank-row");
    li.dataset.bankId = bank.id;
    const count = bank.question_count === 1 ? "1 question" : `${bank.question_count} questions`;
    const open = button(`${bank.title} (${count})`, "button secondary qb-open");
    if (this.bank?.id === bank.id) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => this.open(bank.id));
    const actions = el("div", null, "row-actions");
    if (this.canEdit) {
      const rename = button("Rename", "button secondary small", `Rename “${bank.title}”`);
      rename.addEventListener("click", () => this.renameForm(li, bank));
      const remove = button("Delete", "button secondary small danger", `Delete “${bank.title}”`);
      remove.addEventListener("click", () =>
        confirmInline(remove, `Delete “${bank.title}” and its ${count}?`, "Delete the bank", () => this.deleteBank(bank)),
      );
      actions.append(rename, remove);
    }
    li.append(open, actions);
    return li;
  }

  renameForm(li, bank) {
    const form = el("form", null, "qb-rename");
    const title = input("text", "title", bank.title);
    title.maxLength = 200;
    const save = el("button", "Save the title", "button small");
    save.type = "submit";
    const cancel = button("Cancel", "button secondary small");
    form.append(field(`New title for “${bank.title}”`, title), save, cancel);
    li.replaceChildren(form);
    title.focus();
    cancel.addEventListener("click", () => this.refreshBanks());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const saved = await api("PATCH", `/question-banks/${bank.id}`, { title: title.value });
        if (this.bank?.id === bank.id) {
          this.bank = saved;
          this.panelTitle.textContent = saved.title;
        }
        await this.refreshBanks();
        say(messages, `The bank is renamed “${saved.title}”.`, "success");
      } catch (error) {
        say(messages, describe(error), "error");
      }
    });
  }

  async deleteBank(bank) {
    try {
      await api("DELETE", `/question-banks/${bank.id}`);
      if (this.bank?.id === bank.id) {
        this.bank = null;
        this.panel.hidden = true;
      }
      await this.refreshBanks();
      say(messages, `The bank “${bank.title}” is deleted.`, "success");
    } catch (error) {
      say(messages, describe(error), "error");
    }
  }

  // --- one bank -------------------------------------------------------------------------------

  async open(bankId) {
    try {
      this.bank = await api("GET", `/question-banks/${bankId}`);
      await this.loadQuestions();
    } catch (error) {
      say(messages, describe(error), "error");
      return;
    }
    for (const b of this.bankList.querySelectorAll(".qb-open")) b.removeAttribute("aria-current");
    this.bankList.querySelector(`[data-bank-id="${this.bank.id}"] .qb-open`)?.setAttribute("aria-current", "true");
    this.renderPanel();
    this.panelTitle.focus();
  }

  async loadQuestions() {
    const found = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const answer = await api("GET", `/question-banks/${this.bank.id}/questions?${query}`);
      found.push(...answer.items);
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    this.questions = found;
  }

  renderPanel() {
    const bank = this.bank;
    this.panelTitle = el("h2", bank.title);
    this.panelTitle.id = "bank-title";
    this.panelTitle.tabIndex = -1;
    this.panel.setAttribute("aria-labelledby", this.panelTitle.id);
    const exports = el("p", null, "page-links qb-exports");
    exports.append(
      link(`${API}/question-banks/${bank.id}/export`, "Export as JSON"),
      " · ",
      link(`${API}/question-banks/${bank.id}/export.qti`, "Export as QTI 2.1 (zip)"),
    );
    const tags = new Set();
    for (const q of this.questions) for (const t of q.question.tags) tags.add(t);
    const choices = { "": "All tags" };
    for (const t of [...tags].sort()) choices[t] = t;
    this.tagFilter = select("tag", choices, "");
    this.tagFilter.id = "question-tag-filter";
    this.tagFilter.addEventListener("change", () => this.showQuestions());
    this.list = el("ol", null, "qb-question-list");
    this.list.id = "question-list";
    this.count = el("p", "", "muted");
    this.count.id = "question-count";
    this.count.setAttribute("aria-live", "polite");
    this.formBox = el("div", null, "qb-form-box");
    this.formBox.id = "question-editor";
    this.panel.replaceChildren(this.panelTitle, exports, field("Show the questions tagged", this.tagFilter), this.count, this.list);
    if (this.canEdit) {
      const add = button("Add a question", "button qb-add");
      add.id = "question-add";
      this.addButton = add;
      add.addEventListener("click", () => this.edit(null));
      this.panel.append(add, this.formBox, this.importForms());
    }
    this.panel.hidden = false;
    this.showQuestions();
  }

  showQuestions() {
    const tag = this.tagFilter.value;
    const shown = this.questions.filter((q) => !tag || q.question.tags.includes(tag));
    this.count.textContent =
      `${shown.length} of ${this.questions.length} question${this.questions.length === 1 ? "" : "s"}` +
      (tag ? ` (tagged “${tag}”)` : "");
    this.list.replaceChildren();
    for (const q of shown) this.list.append(this.questionRow(q));
  }

  questionRow(q) {
    const li = el("li", null, "qb-question");
    li.dataset.questionId = q.id;
    const text = excerpt(q.question);
    const head = el("p", null, "qb-question-head");
    head.append(el("strong", TYPE_NAMES[q.question.type] || q.question.type, "qb-type"), " ", el("span", text, "qb-prompt"));
    const meta = el("p", points(q.question.points), "muted qb-meta");
    if (q.question.tags.length) meta.append(` · tags: ${q.question.tags.join(", ")}`);
    li.append(head, meta);
    if (this.canEdit) {
      const actions = el("div", null, "row-actions");
      const edit = button("Edit", "button secondary small", `Edit “${text}”`);
      edit.addEventListener("click", () => this.edit(q));
      const remove = button("Delete", "button secondary small danger", `Delete “${text}”`);
      remove.addEventListener("click", () =>
        confirmInline(remove, `Delete the question “${text}”?`, "Delete the question", () => this.deleteQuestion(q)),
      );
      actions.append(edit, remove);
      li.append(actions);
    }
    return li;
  }

  edit(question) {
    say(messages, "");
    const form = new QuestionForm({
      bank: this.bank,
      question,
      onSaved: async (saved, existing) => {
        this.formBox.replaceChildren();
        await this.reload();
        say(messages, existing ? "The question is saved." : "The question is added.", "success");
        this.list.querySelector(`[data-question-id="${saved.id}"] button`)?.focus();
      },
      onCancel: () => {
        this.formBox.replaceChildren();
        this.addButton?.focus();
      },
    });
    this.formBox.replaceChildren(form.node);
    form.focus();
  }

  async reload() {
    const tag = this.tagFilter.value;
    this.bank = await api("GET", `/question-banks/${this.bank.id}`);
    await this.loadQuestions();
    const editor = this.formBox.firstChild;
    this.renderPanel();
    if (editor) this.formBox.append(editor);
    if ([...this.tagFilter.options].some((o) => o.value === tag)) {
      this.tagFilter.value = tag;
      this.showQuestions();
    }
    await this.refreshBanks();
  }

  async deleteQuestion(q) {
    try {
      await api("DELETE", `/questions/${q.id}`);
      await this.reload();
      say(messages, "The question is deleted.", "success");
      this.tagFilter.focus();
    } catch (error) {
      say(messages, describe(error), "error");
    }
  }

  // --- import -----------------------------------------------------------------------------------

  importForms() {
    const box = el("div", null, "qb-imports");
    box.append(el("h3", "Import questions"));
    box.append(
      this.importForm("json", "A JSON export (seminar.question-bank)", ".json,application/json", "Import the JSON"),
      this.importForm("qti", "A QTI 2.1 package (zip) or item (XML)", ".zip,.xml,application/zip,application/xml,text/xml", "Import the QTI"),
    );
    return box;
  }

  importForm(kind, labelText, accept, submitText) {
    const form = el("form", null, "qb-import");
    form.id = `import-${kind}-form`;
    const file = input("file", "file");
    file.accept = accept;
    const submit = el("button", submitText, "button secondary");
    submit.type = "submit";
    form.append(field(labelText, file), submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = file.files[0];
      if (!chosen) {
        say(messages, "Choose a file to import.", "error");
        file.focus();
        return;
      }
      submit.disabled = true;
      try {
        const result = kind === "json" ? await this.importJson(chosen) : await this.importQti(chosen);
        file.value = "";
        await this.reload();
        say(messages, `Imported ${result.imported} question${result.imported === 1 ? "" : "s"}.`, "success");
      } catch (error) {
        say(messages, `Nothing was imported. ${describe(error)}`, "error");
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  async importJson(file) {
    let document_;
    try {
      document_ = JSON.parse(await file.text());
    } catch {
      throw new ApiError(400, { detail: "The file is not JSON." });
    }
    return api("POST", `/question-banks/${this.bank.id}/import`, document_);
  }

  async importQti(file) {
    const xml = /\.xml$/i.test(file.name);
    let response;
    try {
      response = await fetch(`${API}/question-banks/${this.bank.id}/import-qti`, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": xml ? "application/xml" : "application/zip" },
        body: file,
      });
    } catch {
      throw new ApiError(0, { detail: "The server cannot be reached. Is it running?" });
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data || {});
    return data;
  }
}

async function questionBanksPage() {
  const courseId = segments()[2];
  let course;
  try {
    course = await api("GET", `/courses/${encodeURIComponent(courseId)}`);
  } catch (error) {
    fail(error, "This course's question banks cannot be shown: ");
    return;
  }
  if (!STAFF_ROLES.has(course.your_role)) {
    refuse("Only the course's staff can see its question banks.");
    return;
  }
  show({
    title: "Question banks",
    subtitle: course.title,
    back: `/teach/${course.id}`,
    backText: "Back to the course editor",
  });
  try {
    await new BankEditor(course).load();
  } catch (error) {
    fail(error, "The question banks cannot be loaded: ");
  }
}

if (document.body.dataset.page === "question-banks") questionBanksPage();
