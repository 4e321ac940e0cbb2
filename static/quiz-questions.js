// The quiz page's per-type answer widgets (used by quiz.js) and the answer key as text.
//
// Each widget is built from a question as a student sees it (the API's StudentQuestion: no key)
// and gives back { node, set(answer), disable() }; every change calls onChange(answer, typing),
// where ``answer`` is the API's AnswerIn shape for the type and ``typing`` says the change came
// from a keystroke (the caller debounces those). Text from the server goes in with textContent;
// the prompt's HTML (server-sanitised) is inserted by quiz.js, which gives fill-in-the-blank
// widgets the parsed prompt to place their inputs at the [[id]] markers.

import { el } from "./ui.js";

let counter = 0;
function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

function labelled(input, text, hidden = false) {
  input.id ||= uid("quiz-input");
  const label = el("label", text, hidden ? "visually-hidden" : "quiz-label");
  label.htmlFor = input.id;
  return label;
}

function choiceList(question, kind, options, onPick) {
  const fieldset = el("fieldset", null, "quiz-choices");
  fieldset.append(el("legend", kind === "radio" ? "Choose one" : "Choose all that apply", "visually-hidden"));
  const name = uid("quiz-choice");
  const inputs = [];
  for (const option of options) {
    const row = el("div", null, "quiz-choice");
    const input = document.createElement("input");
    input.type = kind;
    input.name = name;
    input.value = option.id;
    input.addEventListener("change", onPick);
    inputs.push(input);
    row.append(input, labelled(input, option.text));
    fieldset.append(row);
  }
  return { fieldset, inputs };
}

function singleChoice(q, onChange) {
  const { fieldset, inputs } = choiceList(q, "radio", q.options, () => {
    const picked = inputs.find((i) => i.checked);
    onChange({ type: q.type, option_id: picked ? picked.value : null }, false);
  });
  return {
    node: fieldset,
    set(answer) {
      for (const input of inputs) input.checked = input.value === answer.option_id;
    },
    inputs,
  };
}

function multipleChoice(q, onChange) {
  const { fieldset, inputs } = choiceList(q, "checkbox", q.options, () => {
    const ids = inputs.filter((i) => i.checked).map((i) => i.value);
    onChange({ type: q.type, option_ids: ids }, false);
  });
  return {
    node: fieldset,
    set(answer) {
      const ids = new Set(answer.option_ids || []);
      for (const input of inputs) input.checked = ids.has(input.value);
    },
    inputs,
  };
}

function trueFalse(q, onChange) {
  const options = [
    { id: "true", text: "True" },
    { id: "false", text: "False" },
  ];
  const { fieldset, inputs } = choiceList(q, "radio", options, () => {
    const picked = inputs.find((i) => i.checked);
    onChange({ type: q.type, value: picked ? picked.value === "true" : null }, false);
  });
  return {
    node: fieldset,
    set(answer) {
      for (const input of inputs) {
        input.checked = answer.value !== null && input.value === String(answer.value);
      }
    },
    inputs,
  };
}

/** Replaces each [[id]] text in ``prompt`` (a parsed, sanitised fragment) by an input. */
function fillInBlank(q, onChange, prompt) {
  const inputs = new Map();
  const answer = () => {
    const blanks = {};
    for (const [id, input] of inputs) if (input.value !== "") blanks[id] = input.value;
    return { type: q.type, blanks };
  };
  const make = (id, index) => {
    const input = document.createElement("input");
    input.type = "text";
    input.className = "quiz-blank";
    input.maxLength = 500;
    input.autocomplete = "off";
    input.dataset.blank = id;
    input.addEventListener("input", () => onChange(answer(), true));
    inputs.set(id, input);
    const wrap = el("span", null, "quiz-blank-wrap");
    wrap.append(labelled(input, `Blank ${index + 1}`, true), input);
    return wrap;
  };
  const wanted = new Set(q.blank_ids);
  const walker = document.createTreeWalker(prompt, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const text of texts) {
    const parts = text.data.split(/\[\[([A-Za-z0-9_-]+)\]\]/);
    if (parts.length === 1) continue;
    const pieces = [];
    parts.forEach((part, i) => {
      if (i % 2 === 0) {
        if (part) pieces.push(document.createTextNode(part));
      } else if (wanted.has(part) && !inputs.has(part)) {
        pieces.push(make(part, q.blank_ids.indexOf(part)));
      } else {
        pieces.push(document.createTextNode(`[[${part}]]`));
      }
    });
    text.replaceWith(...pieces);
  }
  // Blanks the prompt does not show (a marker split by formatting): listed after it.
  const extra = el("div", null, "quiz-extra-blanks");
  q.blank_ids.forEach((id, index) => {
    if (!inputs.has(id)) extra.append(make(id, index));
  });
  return {
    node: extra,
    set(saved) {
      for (const [id, input] of inputs) input.value = (saved.blanks || {})[id] ?? "";
    },
    inputs: [...inputs.values()],
  };
}

function numeric(q, onChange) {
  const wrap = el("div", null, "field quiz-numeric");
  const input = document.createElement("input");
  input.type = "text";
  input.inputMode = "decimal";
  input.autocomplete = "off";
  const hint = el("p", "", "quiz-hint");
  hint.id = uid("quiz-hint");
  input.setAttribute("aria-describedby", hint.id);
  input.addEventListener("input", () => {
    const raw = input.value.trim().replace(",", ".");
    if (raw === "") {
      hint.textContent = "";
      onChange({ type: q.type, value: null }, true);
      return;
    }
    const value = Number(raw);
    if (!Number.isFinite(value)) {
      hint.textContent = "Enter a number, e.g. 3.5 or -2e3.";
      return;
    }
    hint.textContent = "";
    onChange({ type: q.type, value }, true);
  });
  wrap.append(labelled(input, "Your answer (a number)"), input, hint);
  return {
    node: wrap,
    set(answer) {
      input.value = answer.value === null || answer.value === undefined ? "" : String(answer.value);
    },
    inputs: [input],
  };
}

function matching(q, onChange) {
  const list = el("div", null, "quiz-matching");
  const selects = new Map();
  const answer = () => {
    const matches = {};
    for (const [id, select] of selects) if (select.value) matches[id] = select.value;
    return { type: q.type, matches };
  };
  for (const prompt of q.prompts) {
    const row = el("div", null, "quiz-match");
    const select = document.createElement("select");
    const none = el("option", "— choose —");
    none.value = "";
    select.append(none);
    for (const choice of q.choices) {
      const option = el("option", choice.text);
      option.value = choice.id;
      select.append(option);
    }
    select.addEventListener("change", () => onChange(answer(), false));
    selects.set(prompt.id, select);
    row.append(labelled(select, prompt.text), select);
    list.append(row);
  }
  return {
    node: list,
    set(saved) {
      for (const [id, select] of selects) select.value = (saved.matches || {})[id] ?? "";
    },
    inputs: [...selects.values()],
  };
}

function ordering(q, onChange) {
  const list = el("ol", null, "quiz-ordering");
  const byId = new Map(q.items.map((item) => [item.id, item]));
  let order = q.items.map((item) => item.id);
  const buttons = [];

  function move(index, delta, focusWhich) {
    const target = index + delta;
    if (target < 0 || target >= order.length) return;
    [order[index], order[target]] = [order[target], order[index]];
    draw();
    // Keep the keyboard where it was: on the same button of the moved item, if it can move on.
    const row = list.children[target];
    const again = row.querySelector(`button[data-move="${focusWhich}"]`);
    (again && !again.disabled ? again : row.querySelector("button:not(:disabled)"))?.focus();
    onChange({ type: q.type, order: [...order] }, false);
  }

  function draw() {
    buttons.length = 0;
    const rows = order.map((id, index) => {
      const text = byId.get(id).text;
      const row = el("li", null, "quiz-order-item");
      row.dataset.item = id;
      const up = el("button", "↑", "button secondary small");
      up.type = "button";
      up.dataset.move = "up";
      up.setAttribute("aria-label", `Move “${text}” up`);
      up.disabled = index === 0;
      up.addEventListener("click", () => move(index, -1, "up"));
      const down = el("button", "↓", "button secondary small");
      down.type = "button";
      down.dataset.move = "down";
      down.setAttribute("aria-label", `Move “${text}” down`);
      down.disabled = index === order.length - 1;
      down.addEventListener("click", () => move(index, 1, "down"));
      buttons.push(up, down);
      row.append(el("span", text, "quiz-order-text"), up, down);
      return row;
    });
    list.replaceChildren(...rows);
  }

  draw();
  const wrap = el("div", null, "quiz-ordering-wrap");
  wrap.append(el("p", "Put the items in order with the arrow buttons.", "muted quiz-hint"), list);
  return {
    node: wrap,
    set(saved) {
      const ids = (saved.order || []).filter((id) => byId.has(id));
      if (ids.length === order.length) {
        order = ids;
        draw();
      }
    },
    get inputs() {
      return buttons;
    },
    reset: draw,
    lock() {
      for (const b of list.querySelectorAll("button")) b.disabled = true;
    },
  };
}

export function countWords(text) {
  const words = text.trim().match(/\S+/g);
  return words ? words.length : 0;
}

function essay(q, onChange) {
  const wrap = el("div", null, "field quiz-essay");
  const area = document.createElement("textarea");
  area.rows = 8;
  area.maxLength = 50_000;
  const count = el("p", "", "quiz-hint quiz-word-count");
  count.id = uid("quiz-count");
  area.setAttribute("aria-describedby", count.id);
  const bounds = [];
  if (q.min_words != null) bounds.push(`at least ${q.min_words}`);
  if (q.max_words != null) bounds.push(`at most ${q.max_words}`);
  const showCount = () => {
    const n = countWords(area.value);
    const outside =
      (q.min_words != null && n < q.min_words) || (q.max_words != null && n > q.max_words);
    count.textContent = `${n} ${n === 1 ? "word" : "words"}${bounds.length ? ` (${bounds.join(", ")})` : ""}`;
    count.classList.toggle("quiz-count-outside", outside && n > 0);
  };
  area.addEventListener("input", () => {
    showCount();
    onChange({ type: q.type, text: area.value }, true);
  });
  showCount();
  wrap.append(labelled(area, "Your answer"), area, count);
  return {
    node: wrap,
    set(answer) {
      area.value = answer.text || "";
      showCount();
    },
    inputs: [area],
  };
}

const WIDGETS = {
  single_choice: singleChoice,
  multiple_choice: multipleChoice,
  true_false: trueFalse,
  fill_in_blank: fillInBlank,
  numeric,
  matching,
  ordering,
  essay,
};

export const TYPE_NAMES = {
  single_choice: "Single choice",
  multiple_choice: "Multiple choice",
  true_false: "True or false",
  fill_in_blank: "Fill in the blanks",
  numeric: "Number",
  matching: "Matching",
  ordering: "Ordering",
  essay: "Essay",
};

/** The answer widget for ``q``; ``prompt`` is its parsed prompt (blanks are placed in it). */
export function answerWidget(q, prompt, onChange) {
  const make = WIDGETS[q.type];
  if (!make) return null;
  const widget = make(q, onChange, prompt);
  widget.disable = () => {
    if (widget.lock) widget.lock();
    for (const input of widget.inputs) input.disabled = true;
  };
  return widget;
}

/** The answer key (when the server sends it) as lines of text, for the result view. */
export function keyLines(q, key) {
  const lines = [];
  const text = (items, id) => (items || []).find((i) => i.id === id)?.text ?? id;
  switch (key.type) {
    case "single_choice":
    case "multiple_choice": {
      const right = (key.options || []).filter((o) => o.correct).map((o) => o.text);
      lines.push(`Correct: ${right.join(", ")}`);
      break;
    }
    case "true_false":
      lines.push(`Correct: ${key.correct ? "True" : "False"}`);
      break;
    case "fill_in_blank":
      for (const [i, blank] of (key.blanks || []).entries()) {
        const accepted = (blank.accepted || []).join(" / ");
        lines.push(`Blank ${i + 1}: ${accepted || "(a pattern)"}`);
      }
      break;
    case "numeric": {
      const tol = key.tolerance ? ` ± ${key.tolerance}${key.tolerance_mode === "percent" ? " %" : ""}` : "";
      lines.push(`Correct: ${key.answer}${tol}`);
      break;
    }
    case "matching":
      for (const [prompt, choice] of Object.entries(key.pairs || {})) {
        lines.push(`${text(q.prompts, prompt)} → ${text(q.choices, choice)}`);
      }
      break;
    case "ordering":
      lines.push(`Order: ${(key.correct_order || []).map((id) => text(q.items, id)).join(", ")}`);
      break;
    default:
      break;
  }
  if (key.feedback) lines.push(key.feedback);
  for (const option of key.options || []) {
    if (option.feedback) lines.push(`${option.text}: ${option.feedback}`);
  }
  return lines;
}
