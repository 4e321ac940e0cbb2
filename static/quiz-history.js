// "Your attempts" on the quiz page: the student's past attempts (GET /lessons/{id}/quiz/attempts)
// as a table; a submitted one opens its result. A score shows once graded (an essay waits for a
// person), never someone else's: the server lists only the caller's.

import { ApiError, api } from "./api.js";
import { el } from "./ui.js";

function when(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "—";
}

function scoreText(attempt) {
  if (attempt.status === "in_progress") return "In progress";
  if (attempt.score === null) return "Awaiting grading";
  const verdict = attempt.passed === null ? "" : attempt.passed ? " · passed" : " · not passed";
  return `${attempt.score} / ${attempt.max_score}${verdict}`;
}

/** The table (in its wrapper), or null when there is nothing to list (or it could not be read). */
export async function attemptHistory(lessonId, openAttempt) {
  let listed;
  try {
    listed = await api("GET", `/lessons/${lessonId}/quiz/attempts`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return null;
  }
  if (!listed.items.length) return null;
  // The wrapper scrolls sideways on a narrow phone instead of widening the page.
  const wrap = el("div", null, "quiz-history-wrap");
  wrap.id = "quiz-history";
  const table = el("table", null, "quiz-history");
  wrap.append(table);
  table.append(el("caption", "Your attempts"));
  const head = el("tr");
  for (const title of ["#", "Submitted", "Score", ""]) head.append(el("th", title));
  table.append(el("thead"));
  table.tHead.append(head);
  const body = el("tbody");
  for (const attempt of listed.items) {
    const row = el("tr");
    const open = el("td");
    if (attempt.status === "submitted") {
      const button = el("button", "Review", "button-link");
      button.type = "button";
      button.setAttribute("aria-label", `Review attempt ${attempt.number}`);
      button.addEventListener("click", () => openAttempt(attempt.id));
      open.append(button);
    }
    row.append(
      el("td", String(attempt.number)),
      el("td", attempt.auto_submitted ? `${when(attempt.submitted_at)} (time ran out)` : when(attempt.submitted_at)),
      el("td", scoreText(attempt)),
      open,
    );
    body.append(row);
  }
  table.append(body);
  return wrap;
}
