// /courses/{course id}/grades: a student's own grades in a course (GET /courses/{id}/my-grades:
// released grades only): each item with its points and feedback (feedback_html, sanitised by
// the server), the category percents and weights, the running total and letter, passed or
// not; and the course's certificate to download when one was issued (GET /me/certificates).

import { API, ApiError, api } from "./api.js";
import { sanitisedFragment } from "./assignment-grade.js";
import { body, fail, segments, show } from "./page-shell.js";
import { el, link } from "./ui.js";

const fmt = (n) => (n === null || n === undefined ? "—" : `${Number(Number(n).toFixed(2))}`);
const pct = (n) => (n === null || n === undefined ? "—" : `${fmt(n)} %`);

function summary(grades) {
  const box = el("section", null, "card grades-summary");
  box.id = "grades-summary";
  const title = el("h2", "Running total");
  title.id = "grades-summary-title";
  box.setAttribute("aria-labelledby", title.id);
  const total = el("p", `${pct(grades.percent)}${grades.letter ? ` · ${grades.letter}` : ""}`, "grade-score");
  total.id = "grades-total";
  box.append(title, total);
  if (grades.passed !== null) {
    box.append(el("p", grades.passed ? "Passing" : "Not passing yet", grades.passed ? "quiz-passed" : "quiz-failed"));
  }
  box.append(el("p", "Only released grades count; the total changes as more are released.", "hint"));
  if (grades.categories.length) {
    const table = el("table", null, "rubric-result grades-categories");
    table.append(el("caption", "Categories"));
    const head = el("tr");
    for (const text of ["Category", "Weight", "Your percent"]) {
      const th = el("th", text);
      th.scope = "col";
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const c of grades.categories) {
      const tr = el("tr");
      const th = el("th", c.name);
      th.scope = "row";
      tr.append(th, el("td", `${fmt(c.weight_percent)} %`), el("td", pct(c.percent)));
      tbody.append(tr);
    }
    table.append(thead, tbody);
    box.append(table);
  }
  return box;
}

function itemList(grades) {
  const box = el("section", null, "card grades-items");
  const title = el("h2", "Graded work");
  title.id = "grades-items-title";
  box.setAttribute("aria-labelledby", title.id);
  const list = el("ul", null, "grades-list");
  list.id = "grades-list";
  for (const entry of grades.items) {
    const li = el("li", null, "grades-item");
    li.dataset.itemId = entry.item.id;
    const head = el("h3", null, "grades-item-title");
    if (entry.lesson_id) head.append(link(`/learn/${entry.lesson_id}`, entry.item.title));
    else head.append(entry.item.title);
    const points = entry.points === null ? "Not graded yet" : `${fmt(entry.points)} / ${fmt(entry.max_points)}`;
    const notes = [];
    if (entry.item.extra_credit) notes.push("extra credit");
    if (entry.overridden) notes.push("adjusted by your instructor");
    li.append(head, el("p", points + (notes.length ? ` (${notes.join(", ")})` : ""), "grades-points"));
    if (entry.feedback_html) li.append(sanitisedFragment(entry.feedback_html, "prose grade-feedback"));
    list.append(li);
  }
  if (!grades.items.length) list.append(el("li", "Nothing is graded in this course.", "muted"));
  box.append(title, list);
  return box;
}

async function certificateBox(courseId) {
  let items = [];
  try {
    items = (await api("GET", "/me/certificates")).items;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return null;
  }
  const mine = items.filter((c) => c.course_id === courseId);
  if (!mine.length) return null;
  const box = el("section", null, "card grades-certificate");
  box.id = "grades-certificate";
  const title = el("h2", "Certificate");
  title.id = "grades-certificate-title";
  box.setAttribute("aria-labelledby", title.id);
  box.append(title);
  for (const c of mine) {
    const p = el("p");
    if (c.status === "valid") {
      const download = link(c.pdf_url || `${API}/certificates/${encodeURIComponent(c.code)}/pdf`, "Download the certificate (PDF)", "button");
      download.setAttribute("download", "");
      p.append(download, " ", link(`/certificates/${encodeURIComponent(c.code)}`, "Verification page"));
    } else {
      p.append(`This certificate (${c.code}) was revoked.`);
    }
    box.append(p, el("p", `Issued ${new Date(c.issued_at).toLocaleDateString()} · code ${c.code}`, "muted"));
  }
  return box;
}

async function gradesPage() {
  const courseId = segments()[1];
  let course;
  let grades;
  try {
    course = await api("GET", `/courses/${encodeURIComponent(courseId)}`);
    grades = await api("GET", `/courses/${course.id}/my-grades`);
  } catch (error) {
    fail(error, "Your grades cannot be shown: ");
    return;
  }
  show({ title: "My grades", subtitle: course.title, back: `/courses/${encodeURIComponent(course.slug)}`, backText: "Back to the course" });
  const certificate = await certificateBox(course.id);
  body().append(...[certificate, summary(grades), itemList(grades)].filter(Boolean));
}

if (document.body.dataset.page === "grades") gradesPage();
