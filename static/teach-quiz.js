// The quiz builder of a quiz lesson (/teach/lessons/{lesson id}/settings, for its instructors):
// questions picked from the course's question banks (GET /courses/{id}/question-banks and
// GET /question-banks/{id}/questions) as fixed items or random pools (bank + tag + count), the
// quiz's settings, saved together with PUT /lessons/{id}/quiz (the server checks that every
// question and bank is the course's and that each pool has enough questions).

import { ApiError, api } from "./api.js";
import { button, el, fromLocalInput, problemText, say, toLocalInput } from "./ui.js";

const TYPE_NAMES = {
  single_choice: "Single choice",
  multiple_choice: "Multiple choice",
  true_false: "True/false",
  fill_in_blank: "Fill in the blanks",
  numeric: "Numeric",
  matching: "Matching",
  ordering: "Ordering",
  essay: "Essay",
};
const SCORING = { highest: "The highest attempt", last: "The last attempt", average: "The average" };
const SHOW_ANSWERS = {
  never: "Never",
  after_submission: "After each submission",
  after_close: "After the quiz closes",
};
const MAX_PAGES = 40;

let ids = 0;
const uid = (prefix) => `${prefix}-${++ids}`;

/** A labelled field: ``control`` gets an id and a <label> (and a hint, described by). */
export function field(labelText, control, hint) {
  const wrap = el("div", null, "field");
  control.id ||= uid("f");
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
  if (type === "checkbox") node.checked = Boolean(value);
  else node.value = value ?? "";
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

function checkbox(name, checked, text) {
  const box = input("checkbox", name, checked);
  const label = el("label", null, "check");
  label.append(box, ` ${text}`);
  return { box, label };
}

/** A question's prompt as one short line of plain text (the author's source). */
function summary(question) {
  const text = (question.question.prompt || "").replace(/[#*_`>[\]]/g, "").replace(/\s+/g, " ").trim();
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

export class QuizBuilder {
  constructor(lesson, root, messages) {
    this.lesson = lesson;
    this.root = root;
    this.messages = messages;
    this.banks = [];
    this.questions = new Map(); // id -> QuestionOut
    this.byBank = new Map(); // bank id -> [QuestionOut]
    this.items = []; // {question_id} | {bank_id, tag, count}
  }

  async load() {
    let quiz = null;
    try {
      quiz = await api("GET", `/lessons/${this.lesson.id}/quiz`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code !== "quiz_not_found") throw error;
    }
    this.banks = (await api("GET", `/courses/${this.lesson.course_id}/question-banks?limit=100`)).items;
    for (const bank of this.banks) {
      const found = [];
      let cursor = null;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const answer = await api("GET", `/question-banks/${bank.id}/questions?${query}`);
        found.push(...answer.items);
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
      this.byBank.set(bank.id, found);
      for (const q of found) this.questions.set(q.id, q);
    }
    this.items = quiz ? quiz.items.map((item) => ({ ...item })) : [];
    this.render(quiz);
  }

  bankTitle(id) {
    return this.banks.find((b) => b.id === id)?.title || "a bank no longer there";
  }

  tagsOf(bankId) {
    const tags = new Set();
    for (const q of this.byBank.get(bankId) || []) for (const t of q.question.tags) tags.add(t);
    return [...tags].sort();
  }

  available(bankId, tag) {
    return (this.byBank.get(bankId) || []).filter((q) => !tag || q.question.tags.includes(tag)).length;
  }

  render(quiz) {
    const itemsSection = el("section", null, "card builder-items");
    const itemsTitle = el("h2", "Questions of the quiz");
    itemsTitle.id = "builder-items-title";
    itemsSection.setAttribute("aria-labelledby", itemsTitle.id);
    this.list = el("ol", null, "builder-list");
    this.list.id = "builder-items";
    this.total = el("p", "", "muted builder-total");
    this.total.id = "builder-total";
    this.total.setAttribute("aria-live", "polite");
    itemsSection.append(itemsTitle, this.total, this.list);

    const pick = el("section", null, "card builder-pick");
    const pickTitle = el("h2", "Add questions from a bank");
    pickTitle.id = "builder-pick-title";
    pick.setAttribute("aria-labelledby", pickTitle.id);
    pick.append(pickTitle);
    if (!this.banks.length) {
      const none = el("p", "This course has no question banks yet: ", "muted");
      const banks = el("a", "create one and add questions to it");
      banks.href = `/teach/courses/${this.lesson.course_id}/question-banks`;
      none.append(banks, ".");
      pick.append(none);
    } else {
      pick.append(this.pickForm(), this.poolForm());
    }

    const settings = this.settingsForm(quiz);
    this.root.replaceChildren(itemsSection, pick, settings);
    this.showItems();
  }

  // --- the items --------------------------------------------------------------------------------

  showItems() {
    this.list.replaceChildren();
    let count = 0;
    let fixedPoints = 0;
    this.items.forEach((item, index) => {
      const li = el("li", null, "builder-item");
      let text;
      if (item.question_id) {
        const q = this.questions.get(item.question_id);
        count += 1;
        fixedPoints += q ? q.question.points : 0;
        li.dataset.questionId = item.question_id;
        text = q
          ? `${summary(q)} — ${TYPE_NAMES[q.question.type] || q.question.type}, ${q.question.points} pt`
          : "A question no longer in the course's banks";
      } else {
        count += item.count;
        li.dataset.bankId = item.bank_id;
        li.classList.add("builder-pool");
        const tag = item.tag ? ` tagged “${item.tag}”` : "";
        text = `${item.count} at random from ${this.bankTitle(item.bank_id)}${tag}`;
      }
      const label = el("span", text, "builder-item-text");
      const actions = el("div", null, "row-actions");
      const up = button("Move up", "button secondary small move-up", `Move “${text}” up`);
      up.disabled = index === 0;
      up.addEventListener("click", () => this.moveItem(index, -1, ".move-up"));
      const down = button("Move down", "button secondary small move-down", `Move “${text}” down`);
      down.disabled = index === this.items.length - 1;
      down.addEventListener("click", () => this.moveItem(index, 1, ".move-down"));
      const remove = button("Remove", "button secondary small danger", `Remove “${text}”`);
      remove.addEventListener("click", () => {
        this.items.splice(index, 1);
        this.showItems();
        this.refreshPick();
        say(this.messages, "Removed from the quiz (not saved yet).");
      });
      actions.append(up, down, remove);
      li.append(label, actions);
      this.list.append(li);
    });
    if (!this.items.length) this.list.append(el("li", "No questions yet: add some below.", "muted"));
    this.total.textContent =
      `${count} ${count === 1 ? "question" : "questions"} per attempt` +
      (fixedPoints ? ` (fixed ones worth ${Number(fixedPoints.toFixed(2))} points)` : "");
  }

  moveItem(index, step, focusClass) {
    const to = index + step;
    if (to < 0 || to >= this.items.length) return;
    const [item] = this.items.splice(index, 1);
    this.items.splice(to, 0, item);
    this.showItems();
    const target = this.list.children[to]?.querySelector(focusClass);
    if (target && !target.disabled) target.focus();
    else this.list.children[to]?.querySelector("button:not([disabled])")?.focus();
  }

  // --- picking fixed questions --------------------------------------------------------------------

  pickForm() {
    const box = el("div", null, "builder-picker");
    const bankOptions = Object.fromEntries(this.banks.map((b) => [b.id, `${b.title} (${b.question_count})`]));
    const bank = select("bank", bankOptions, this.banks[0].id);
    bank.id = "pick-bank";
    const tag = select("tag", { "": "Any tag" }, "");
    tag.id = "pick-tag";
    const fillTags = () => {
      tag.replaceChildren(el("option", "Any tag"));
      tag.firstChild.value = "";
      for (const t of this.tagsOf(bank.value)) {
        const option = el("option", t);
        option.value = t;
        tag.append(option);
      }
    };
    fillTags();
    this.pickList = el("ul", null, "builder-questions");
    this.pickList.id = "pick-questions";
    this.pickBank = bank;
    this.pickTag = tag;
    bank.addEventListener("change", () => {
      fillTags();
      this.refreshPick();
    });
    tag.addEventListener("change", () => this.refreshPick());
    const filters = el("div", null, "inline-form");
    filters.append(field("Bank", bank), field("Tag", tag));
    box.append(el("h3", "Fixed questions"), filters, this.pickList);
    this.refreshPick();
    return box;
  }

  refreshPick() {
    if (!this.pickList) return;
    const chosen = new Set(this.items.filter((i) => i.question_id).map((i) => i.question_id));
    const questions = (this.byBank.get(this.pickBank.value) || []).filter(
      (q) => !this.pickTag.value || q.question.tags.includes(this.pickTag.value),
    );
    this.pickList.replaceChildren();
    if (!questions.length) this.pickList.append(el("li", "No questions here.", "muted"));
    for (const q of questions) {
      const li = el("li", null, "builder-question");
      li.dataset.questionId = q.id;
      const text = summary(q);
      const meta = [TYPE_NAMES[q.question.type] || q.question.type, `${q.question.points} pt`];
      if (q.question.tags.length) meta.push(q.question.tags.join(", "));
      li.append(el("span", text, "builder-question-text"), el("span", ` · ${meta.join(" · ")}`, "muted"));
      const add = button(chosen.has(q.id) ? "Added" : "Add", "button secondary small", `Add “${text}”`);
      add.disabled = chosen.has(q.id);
      add.addEventListener("click", () => {
        this.items.push({ question_id: q.id });
        this.showItems();
        this.refreshPick();
        say(this.messages, `Added “${text}” (not saved yet).`);
        this.pickList.querySelector(`[data-question-id="${q.id}"] button`)?.focus();
      });
      li.append(add);
      this.pickList.append(li);
    }
  }

  // --- random pools ---------------------------------------------------------------------------------

  poolForm() {
    const form = el("form", null, "builder-pool-form");
    form.noValidate = true;
    form.id = "pool-form";
    const bankOptions = Object.fromEntries(this.banks.map((b) => [b.id, b.title]));
    const bank = select("bank_id", bankOptions, this.banks[0].id);
    bank.id = "pool-bank";
    const tag = input("text", "tag", "");
    tag.id = "pool-tag";
    tag.setAttribute("list", "pool-tags");
    const tags = document.createElement("datalist");
    tags.id = "pool-tags";
    const fillTags = () => {
      tags.replaceChildren(...this.tagsOf(bank.value).map((t) => Object.assign(el("option"), { value: t })));
    };
    fillTags();
    bank.addEventListener("change", fillTags);
    const count = input("number", "count", "1");
    count.id = "pool-count";
    count.min = "1";
    count.max = "100";
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    const add = el("button", "Add the pool", "button small");
    add.type = "submit";
    form.append(
      el("h3", "A random pool"),
      el("p", "Each attempt draws this many questions at random from the bank (with the tag, if given).", "hint"),
      field("Pool bank", bank),
      field("Pool tag", tag, "Empty: any question of the bank."),
      tags,
      field("Questions to draw", count),
      add,
      problem,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      problem.replaceChildren();
      const wanted = Number(count.value);
      const tagValue = tag.value.trim().toLowerCase() || null;
      const have = this.available(bank.value, tagValue);
      if (!Number.isInteger(wanted) || wanted < 1 || wanted > 100) {
        problem.append(el("p", "Draw between 1 and 100 questions."));
        count.focus();
        return;
      }
      if (wanted > have) {
        problem.append(el("p", `The bank has only ${have} such ${have === 1 ? "question" : "questions"}.`));
        count.focus();
        return;
      }
      this.items.push({ bank_id: bank.value, tag: tagValue, count: wanted });
      this.showItems();
      say(this.messages, "Pool added (not saved yet).");
    });
    return form;
  }

  // --- settings and saving ------------------------------------------------------------------------

  settingsForm(quiz) {
    const q = quiz || {
      time_limit_seconds: null,
      opens_at: null,
      closes_at: null,
      attempts_allowed: 1,
      scoring: "highest",
      passing_percent: null,
      show_answers: "after_submission",
      shuffle_questions: false,
    };
    const section = el("section", null, "card builder-settings");
    const title = el("h2", "Settings");
    title.id = "builder-settings-title";
    section.setAttribute("aria-labelledby", title.id);
    const form = el("form", null, "settings-grid");
    form.id = "quiz-settings-form";
    form.noValidate = true;
    const minutes = input("number", "time_limit_minutes", q.time_limit_seconds ? q.time_limit_seconds / 60 : "");
    minutes.min = "1";
    minutes.step = "any";
    const opens = input("datetime-local", "opens_at", toLocalInput(q.opens_at));
    const closes = input("datetime-local", "closes_at", toLocalInput(q.closes_at));
    const attempts = input("number", "attempts_allowed", q.attempts_allowed ?? "");
    attempts.min = "1";
    attempts.max = "100";
    const scoring = select("scoring", SCORING, q.scoring);
    const passing = input("number", "passing_percent", q.passing_percent ?? "");
    passing.min = "0";
    passing.max = "100";
    passing.step = "any";
    const show = select("show_answers", SHOW_ANSWERS, q.show_answers);
    const shuffle = checkbox("shuffle_questions", q.shuffle_questions, "Shuffle the questions for each student");
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    problem.id = "builder-problem";
    const save = el("button", "Save the quiz", "button");
    save.type = "submit";
    save.id = "builder-save";
    const saveWrap = el("div", null, "field wide");
    saveWrap.append(save, problem);
    const shuffleWrap = el("div", null, "field wide checks");
    shuffleWrap.append(shuffle.label);
    form.append(
      field("Time limit (minutes)", minutes, "Empty: no time limit."),
      field("Attempts allowed", attempts, "Empty: unlimited."),
      field("Opens", opens, "Empty: open at once."),
      field("Closes", closes, "Empty: never closes."),
      field("Which attempt counts", scoring),
      field("Pass mark (%)", passing, "Empty: no pass mark."),
      field("Show the correct answers", show),
      shuffleWrap,
      saveWrap,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.replaceChildren();
      for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
      if (!this.items.length) {
        problem.append(el("p", "Add at least one question or pool first."));
        return;
      }
      const body = {
        time_limit_seconds: minutes.value ? Math.round(Number(minutes.value) * 60) : null,
        opens_at: fromLocalInput(opens.value),
        closes_at: fromLocalInput(closes.value),
        attempts_allowed: attempts.value ? Number(attempts.value) : null,
        scoring: scoring.value,
        passing_percent: passing.value === "" ? null : Number(passing.value),
        show_answers: show.value,
        shuffle_questions: shuffle.box.checked,
        items: this.items.map((i) => (i.question_id ? { question_id: i.question_id } : i)),
      };
      save.disabled = true;
      try {
        const saved = await api("PUT", `/lessons/${this.lesson.id}/quiz`, body);
        this.items = saved.items.map((item) => ({ ...item }));
        this.showItems();
        say(this.messages, "The quiz is saved.", "success");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const names = {
          time_limit_seconds: minutes,
          opens_at: opens,
          closes_at: closes,
          attempts_allowed: attempts,
          passing_percent: passing,
        };
        for (const e of error.fieldErrors) {
          const name = Array.isArray(e.loc) ? e.loc[1] : null;
          names[name]?.setAttribute("aria-invalid", "true");
        }
        problem.append(el("p", problemText(error)));
        say(this.messages, "The quiz was not saved.", "error");
      } finally {
        save.disabled = false;
      }
    });
    section.append(title, form);
    return section;
  }
}
