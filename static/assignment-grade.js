// A released grade as a student sees it (the assignment and quiz parts of the lesson page and
// /courses/{id}/grades): points, the rubric's chosen levels, the feedback (feedback_html, which
// the server renders and sanitises) and the grader's files. GET /lessons/{id}/my-grade answers
// 404 (grade_not_found) until a grade is released; then the box shows.

import { API, ApiError, api } from "./api.js";
import { el, formatBytes } from "./ui.js";

/**
 * Puts server-sanitised HTML (``brief_html``, ``feedback_html``: rendered from the author's
 * Markdown/HTML and sanitised with an allow-list on the server) into a div. DOMParser gives an
 * inert document (nothing in it runs) whose nodes are moved over; the page's CSP
 * (script-src 'self') stands behind it. Only the server's sanitised fields come here.
 */
export function sanitisedFragment(sanitisedHtml, className) {
  const parsed = new DOMParser().parseFromString(sanitisedHtml || "", "text/html");
  for (const a of parsed.body.querySelectorAll("a[href]")) {
    a.setAttribute("rel", "noopener noreferrer nofollow");
  }
  const div = el("div", null, className);
  div.append(...parsed.body.childNodes);
  return div;
}

export const points = (n) => (n === null || n === undefined ? "—" : `${Number(Number(n).toFixed(2))}`);

/** The grade's parts: score, rubric, feedback, files (``grade`` as my-grade answers it). */
export function gradeDetails(grade) {
  const box = el("div", null, "grade-details");
  const score = el("p", `Grade: ${points(grade.points)} / ${points(grade.max_points)}`, "grade-score");
  box.append(score);
  const criteria = grade.rubric?.criteria || [];
  if (criteria.length) {
    const table = el("table", null, "rubric-result");
    table.append(el("caption", "Rubric"));
    const head = el("tr");
    head.append(el("th", "Criterion"), el("th", "Level"), el("th", "Points"));
    const thead = el("thead");
    thead.append(head);
    const body = el("tbody");
    for (const c of criteria) {
      const chosen = c.levels.find((l) => l.id === grade.rubric_scores?.[c.id]);
      const row = el("tr");
      const th = el("th", c.title);
      th.scope = "row";
      row.append(th, el("td", chosen ? chosen.title : "—"), el("td", chosen ? points(chosen.points) : "—"));
      body.append(row);
    }
    table.append(thead, body);
    box.append(table);
  }
  if (grade.feedback_html) {
    box.append(el("h4", "Feedback"), sanitisedFragment(grade.feedback_html, "prose grade-feedback"));
  }
  if (grade.files?.length) {
    const list = el("ul", null, "grade-files");
    for (const f of grade.files) {
      const item = el("li");
      const link = el("a", f.filename);
      link.href = `${API}/grades/${grade.id}/files/${f.id}`;
      link.setAttribute("download", f.filename);
      item.append(link, el("span", ` (${formatBytes(f.size)})`, "muted"));
      list.append(item);
    }
    box.append(el("h4", "Files from your grader"), list);
  }
  return box;
}

/** Shows the caller's released grade of a lesson in ``box`` (left hidden while there is none). */
export async function showMyGrade(lessonId, box) {
  let grade;
  try {
    grade = await api("GET", `/lessons/${lessonId}/my-grade`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return null; // 404 grade_not_found: nothing released yet
  }
  const title = el("h3", "Your grade");
  title.id = `grade-title-${lessonId}`;
  box.setAttribute("aria-labelledby", title.id);
  box.replaceChildren(title, gradeDetails(grade));
  if (grade.released_at) {
    box.append(el("p", `Released ${new Date(grade.released_at).toLocaleString()}`, "muted"));
  }
  box.hidden = false;
  return grade;
}
