// The type-specific part of the question form (static/question-form.js), one builder per type
// of lms_core/question_banks/schemas.py: each takes the question being edited (or {}) and
// returns {node, read()}, read() giving that type's fields of the request body. Ids of options,
// blanks, prompts, choices and items are kept when a question is edited (attempts refer to
// them); new rows get fresh ones.

import { el } from "./ui.js";
import {
  RowList,
  at,
  check,
  field,
  freshId,
  input,
  numberOf,
  select,
  textarea,
  uid,
} from "./question-form-rows.js";

export const TYPE_NAMES = {
  single_choice: "Single choice",
  multiple_choice: "Multiple choice",
  true_false: "True/false",
  fill_in_blank: "Fill in the blanks",
  numeric: "Numeric",
  matching: "Matching",
  ordering: "Ordering",
  essay: "Essay",
};

const scoringBox = (q, text) => check("scoring", (q.scoring || "partial") === "partial", text);
const scoringOf = (box) => (box.checked ? "partial" : "all_or_nothing");

function usedIds(list, extra = []) {
  return new Set([...list.rows.map((r) => r.id), ...extra].filter(Boolean));
}

// --- single and multiple choice -------------------------------------------------------------

function choice(q, multiple) {
  const group = uid("correct");
  const list = new RowList({
    legend: "Options",
    addText: "Add an option",
    what: "option",
    loc: "options",
    min: 2,
    make(data) {
      const node = el("div", null, "qf-row-fields");
      const text = input("text", "option_text", data.text);
      const correct = check(multiple ? "correct" : group, data.correct, "Correct", multiple ? "checkbox" : "radio");
      const feedback = input("text", "option_feedback", data.feedback);
      node.append(field("Option text", text), correct.label, field("Feedback for this option", feedback));
      const row = {
        node,
        id: data.id || freshId("o", usedIds(list)),
        read(index) {
          at(text, `options.${index}.text`);
          at(correct.box, `options.${index}.correct`);
          at(feedback, `options.${index}.feedback`);
          return { id: row.id, text: text.value, correct: correct.box.checked, feedback: feedback.value };
        },
      };
      return row;
    },
  });
  const options = q.options || [{ text: "" }, { text: "" }];
  for (const o of options) list.add(o);
  const shuffle = check("shuffle", q.shuffle ?? true, "Shuffle the options for each student");
  const node = el("div", null, "qf-type");
  node.append(list.node, shuffle.label);
  let scoring = null;
  if (multiple) {
    scoring = scoringBox(q, "Partial credit (hits minus wrong picks, at least 0)");
    node.append(scoring.label);
  }
  return {
    node,
    read() {
      const out = { options: list.read(), shuffle: shuffle.box.checked };
      if (scoring) out.scoring = scoringOf(scoring.box);
      return out;
    },
  };
}

// --- true/false -------------------------------------------------------------------------------

function trueFalse(q) {
  const answer = select("correct", { true: "True", false: "False" }, String(q.correct ?? true));
  const node = el("div", null, "qf-type");
  node.append(field("The statement is", at(answer, "correct")));
  return { node, read: () => ({ correct: answer.value === "true" }) };
}

// --- fill in the blanks -----------------------------------------------------------------------

function fillInBlank(q, form) {
  const list = new RowList({
    legend: "Blanks",
    addText: "Add a blank",
    what: "blank",
    loc: "blanks",
    min: 1,
    make(data) {
      const node = el("div", null, "qf-row-fields");
      const taken = new Set(list.rows.map((r) => r.node.querySelector("[name=blank_id]").value.trim()));
      const id = input("text", "blank_id", data.id || freshId("b", taken));
      const accepted = textarea("accepted", (data.accepted || []).join("\n"), 2);
      const caseSensitive = check("case_sensitive", data.case_sensitive ?? false, "Case sensitive");
      const whitespace = check(
        "normalize_whitespace",
        data.normalize_whitespace ?? true,
        "Ignore extra spaces (trim and collapse whitespace)",
      );
      const pattern = input("text", "pattern", data.pattern || "");
      node.append(
        field("Blank id", id, "Write [[id]] in the prompt where this blank goes."),
        field("Accepted answers (one per line)", accepted),
        caseSensitive.label,
        whitespace.label,
        field("Regular expression (optional)", pattern, "RE2 syntax, matched against the whole answer."),
      );
      return {
        node,
        read(index) {
          at(id, `blanks.${index}.id`);
          at(accepted, `blanks.${index}.accepted`);
          at(pattern, `blanks.${index}.pattern`);
          const lines = accepted.value.split("\n").filter((line) => line.trim());
          return {
            id: id.value.trim(),
            accepted: lines,
            case_sensitive: caseSensitive.box.checked,
            normalize_whitespace: whitespace.box.checked,
            pattern: pattern.value ? pattern.value : null,
          };
        },
      };
    },
  });
  for (const b of q.blanks || []) list.add(b);
  const find = el("button", "Add the blanks named in the prompt", "button secondary small");
  find.type = "button";
  find.addEventListener("click", () => {
    const have = new Set(list.rows.map((r) => r.node.querySelector("[name=blank_id]").value.trim()));
    for (const match of form.prompt().matchAll(/\[\[([A-Za-z0-9_-]+)\]\]/g)) {
      if (!have.has(match[1])) {
        list.add({ id: match[1] });
        have.add(match[1]);
      }
    }
  });
  const scoring = scoringBox(q, "Partial credit (an equal share per blank)");
  const node = el("div", null, "qf-type");
  node.append(find, list.node, scoring.label);
  return { node, read: () => ({ blanks: list.read(), scoring: scoringOf(scoring.box) }) };
}

// --- numeric ----------------------------------------------------------------------------------

function numeric(q) {
  const answer = at(input("number", "answer", q.answer ?? ""), "answer");
  const tolerance = at(input("number", "tolerance", q.tolerance ?? 0), "tolerance");
  const mode = at(
    select("tolerance_mode", { absolute: "Absolute (±)", percent: "Percent of the answer" }, q.tolerance_mode || "absolute"),
    "tolerance_mode",
  );
  const node = el("div", null, "qf-type");
  node.append(field("Answer", answer), field("Tolerance", tolerance), field("Tolerance is", mode));
  return {
    node,
    read() {
      const out = { tolerance: numberOf(tolerance) ?? 0, tolerance_mode: mode.value };
      const value = numberOf(answer);
      if (value !== null) out.answer = value; // left out: the server names the missing field
      return out;
    },
  };
}

// --- matching ---------------------------------------------------------------------------------

function matching(q) {
  const choiceText = new Map((q.choices || []).map((c) => [c.id, c.text]));
  const choiceId = new Map((q.choices || []).map((c) => [c.text, c.id]));
  const paired = new Set(Object.values(q.pairs || {}));
  const pairs = new RowList({
    legend: "Pairs (an item and its match)",
    addText: "Add a pair",
    what: "pair",
    loc: "prompts",
    min: 1,
    make(data) {
      const node = el("div", null, "qf-row-fields");
      const left = input("text", "pair_prompt", data.text);
      const right = input("text", "pair_match", data.match);
      node.append(field("Item", left), field("Its match", right));
      const row = {
        node,
        id: data.id || freshId("p", usedIds(pairs)),
        read(index) {
          at(left, `prompts.${index}.text`);
          return { id: row.id, text: left.value, match: right.value };
        },
      };
      return row;
    },
  });
  for (const p of q.prompts || [{}]) pairs.add({ ...p, match: choiceText.get(q.pairs?.[p.id]) });
  const extras = new RowList({
    legend: "Extra choices that match nothing (optional)",
    addText: "Add an extra choice",
    what: "extra choice",
    loc: "choices",
    make(data) {
      const text = input("text", "distractor", data.text);
      return { node: field("Extra choice", text), read: () => text.value };
    },
  });
  for (const c of q.choices || []) if (!paired.has(c.id)) extras.add(c);
  const shuffle = check("shuffle", q.shuffle ?? true, "Shuffle the choices for each student");
  const scoring = scoringBox(q, "Partial credit (an equal share per item)");
  const node = el("div", null, "qf-type");
  node.append(pairs.node, extras.node, shuffle.label, scoring.label);
  return {
    node,
    read() {
      const rows = pairs.read();
      const choices = [];
      const byText = new Map();
      const used = new Set();
      const idFor = (text) => {
        if (byText.has(text)) return byText.get(text);
        let id = choiceId.get(text);
        if (!id || used.has(id)) id = freshId("c", new Set([...used, ...choiceId.values()]));
        used.add(id);
        byText.set(text, id);
        choices.push({ id, text });
        return id;
      };
      const map = {};
      for (const row of rows) map[row.id] = idFor(row.match);
      for (const text of extras.read()) idFor(text);
      return {
        prompts: rows.map(({ id, text }) => ({ id, text })),
        choices,
        pairs: map,
        shuffle: shuffle.box.checked,
        scoring: scoringOf(scoring.box),
      };
    },
  };
}

// --- ordering ---------------------------------------------------------------------------------

function ordering(q) {
  const texts = new Map((q.items || []).map((i) => [i.id, i.text]));
  const list = new RowList({
    legend: "Items, in the right order (first to last)",
    addText: "Add an item",
    what: "item",
    loc: "items",
    min: 2,
    make(data) {
      const text = input("text", "item_text", data.text);
      const row = {
        node: field("Item text", text),
        id: data.id || freshId("i", usedIds(list)),
        read(index) {
          at(text, `items.${index}.text`);
          return { id: row.id, text: text.value };
        },
      };
      return row;
    },
  });
  const order = q.correct_order || [null, null];
  for (const id of order) list.add(id ? { id, text: texts.get(id) } : {});
  const scoring = scoringBox(q, "Partial credit (an equal share per item in its place)");
  const node = el("div", null, "qf-type");
  node.append(list.node, scoring.label);
  return {
    node,
    read() {
      const items = list.read();
      return { items, correct_order: items.map((i) => i.id), scoring: scoringOf(scoring.box) };
    },
  };
}

// --- essay ------------------------------------------------------------------------------------

function essay(q) {
  const min = at(input("number", "min_words", q.min_words ?? ""), "min_words");
  const max = at(input("number", "max_words", q.max_words ?? ""), "max_words");
  const notes = at(textarea("grader_notes", q.grader_notes, 3), "grader_notes");
  const node = el("div", null, "qf-type");
  node.append(
    field("Minimum words (optional)", min),
    field("Maximum words (optional)", max),
    field("Notes for graders", notes, "Never shown to students."),
  );
  return {
    node,
    read: () => ({ min_words: numberOf(min), max_words: numberOf(max), grader_notes: notes.value }),
  };
}

export const BUILDERS = {
  single_choice: (q) => choice(q, false),
  multiple_choice: (q) => choice(q, true),
  true_false: trueFalse,
  fill_in_blank: fillInBlank,
  numeric,
  matching,
  ordering,
  essay,
};
