// A student's quiz attempt on the grading panel (grading-detail.js), for the course's staff:
//   GET /quiz-attempts/{id}/review.
// Every question as the attempt drew it (pools included) with the student's answer: an essay's
// text in full as text (never HTML; line breaks kept), objective answers summarised with their
// automatic points, and the key. Only the server-sanitised prompt_html goes through
// sanitisedFragment (assignment-grade.js, the one module that parses HTML); answers are text. The
// essay questions are returned for the panel's points inputs.

import { api } from "./api.js";
import { sanitisedFragment } from "./assignment-grade.js";
import { TYPE_NAMES, keyLines } from "./quiz-questions.js";
import { el } from "./ui.js";

const fmt = (n) => (n === null || n === undefined ? "—" : `${Number(Number(n).toFixed(2))}`);

export function attemptReview(attemptId) {
  return api("GET", `/quiz-attempts/${attemptId}/review`);
}

/** The attempt's questions graded by a person: [{id, label, max}] for the points inputs. */
export function manualQuestions(review) {
  return review.questions
    .filter((q) => q.needs_manual)
    .map((q) => ({ id: q.question_id, label: `question ${q.position} (${q.type}, ${fmt(q.max_points)} pt)`, max: q.max_points }));
}

/** An objective answer as one line of text (``null``: nothing answered). */
function answerLine(d, answer) {
  if (!answer) return null;
  const text = (items, id) => (items || []).find((i) => i.id === id)?.text ?? id;
  switch (d.type) {
    case "single_choice":
      return answer.option_id ? text(d.options, answer.option_id) : null;
    case "multiple_choice":
      return answer.option_ids?.length ? answer.option_ids.map((id) => text(d.options, id)).join(", ") : null;
    case "true_false":
      return answer.value === null || answer.value === undefined ? null : answer.value ? "True" : "False";
    case "fill_in_blank": {
      const given = answer.blanks || {};
      if (!Object.keys(given).length) return null;
      return (d.blanks || []).map((b, i) => `Blank ${i + 1}: ${given[b.id] ?? "—"}`).join(" · ");
    }
    case "numeric":
      return answer.value === null || answer.value === undefined ? null : String(answer.value);
    case "matching": {
      const given = answer.matches || {};
      if (!Object.keys(given).length) return null;
      return (d.prompts || []).map((p) => `${p.text} → ${given[p.id] ? text(d.choices, given[p.id]) : "—"}`).join(" · ");
    }
    case "ordering":
      return answer.order?.length ? answer.order.map((id) => text(d.items, id)).join(", ") : null;
    default:
      return null;
  }
}

function pointsLine(q) {
  if (q.needs_manual) {
    const text = q.points === null ? `Not graded yet (out of ${fmt(q.max_points)}): give its points below.` : `Points given: ${fmt(q.points)} / ${fmt(q.max_points)}`;
    return el("p", text, "muted grading-question-points");
  }
  const text = q.points === null ? `— / ${fmt(q.max_points)}` : `${fmt(q.points)} / ${fmt(q.max_points)} (graded automatically)`;
  return el("p", `Points: ${text}`, "muted grading-question-points");
}

function question(q) {
  const li = el("li", null, "grading-question");
  li.dataset.questionId = q.question_id;
  li.dataset.type = q.type;
  li.append(el("h4", `Question ${q.position} · ${TYPE_NAMES[q.type] || q.type} · ${fmt(q.max_points)} pt`), sanitisedFragment(q.prompt_html, "prose quiz-prompt"));
  if (q.type === "essay") {
    const text = q.answer?.text ?? "";
    if (text) {
      li.append(el("pre", text, "assignment-text grading-text grading-essay-text"));
    } else {
      li.append(el("p", "No answer.", "muted grading-answer"));
    }
  } else {
    const line = answerLine(q.definition, q.answer);
    const p = el("p", null, "grading-answer");
    p.append(el("strong", "Answer: "), line === null ? el("span", "No answer.", "muted") : line);
    li.append(p);
  }
  li.append(pointsLine(q));
  const key = q.type === "essay" ? (q.definition.grader_notes ? [`Grader notes: ${q.definition.grader_notes}`] : []) : keyLines(q.definition, q.definition);
  if (key.length) {
    const details = el("details", null, "grading-key");
    const list = el("ul");
    for (const line of key) list.append(el("li", line));
    details.append(el("summary", q.type === "essay" ? "Grader notes" : "Answer key"), list);
    li.append(details);
  }
  return li;
}

/** The attempt's questions and answers, as a node for the panel's work box. */
export function attemptWork(review) {
  const box = el("div", null, "grading-attempt");
  box.id = "grading-attempt";
  const score = review.needs_manual ? `${fmt(review.score)} / ${fmt(review.max_score)} so far (essays wait for points)` : `${fmt(review.score)} / ${fmt(review.max_score)}`;
  box.append(el("p", `Attempt ${review.number} · ${review.status === "submitted" ? `score ${score}` : "in progress"}${review.auto_submitted ? " · submitted when time ran out" : ""}`));
  const list = el("ol", null, "grading-questions");
  for (const q of review.questions) list.append(question(q));
  box.append(list);
  return box;
}
