// /teach/{course id}: the course editor. Settings (PATCH /courses/{id}), thumbnail upload with
// a progress bar, Publish / Archive with the server's problems shown, and the outline editor
// (modules and lessons, drag-and-drop and keyboard reordering; outline-editor.js).
// A plain ES module (CSP script-src 'self'); server text goes in with textContent only.

import { ApiError, api } from "./api.js";
import { fractionDigits, toMajor, toMinor } from "./money.js";
import { addAccountLinks } from "./nav.js";
import { OutlineEditor, authorText, formatSelect } from "./outline-editor.js";
import {
  el,
  fromLocalInput,
  link,
  pathTail,
  problemText,
  progressLine,
  say,
  sayProblem,
  toLocalInput,
  uploadRaw,
} from "./ui.js";

const messages = document.getElementById("messages");
const EDITOR_ROLES = new Set(["owner", "co_instructor", "admin"]);
const STATUS = { draft: "Draft", published: "Published", archived: "Archived" };

function showDenied(text) {
  document.getElementById("editor-loading").hidden = true;
  const denied = document.getElementById("editor-denied");
  if (text) document.getElementById("denied-text").textContent = text;
  denied.hidden = false;
  document.getElementById("denied-title").focus();
}

/** The Markdown/HTML choice beside the description (once, after its field). */
function descriptionFormat(form) {
  let select = form.elements.namedItem("description_format");
  if (select) return select;
  select = formatSelect("description_format", "markdown");
  select.id = "course-description-format";
  const label = el("label", "Written in");
  label.htmlFor = select.id;
  const wrap = el("div", null, "field");
  wrap.append(label, select);
  const description = form.elements.namedItem("description");
  description.closest(".field").after(wrap);
  return select;
}

function fillSettings(form, course) {
  const set = (name, value) => {
    form.elements.namedItem(name).value = value ?? "";
  };
  set("title", course.title);
  set("summary", course.summary);
  // The author's own text in its format (given to editors only), not the sanitised HTML.
  const written = authorText(
    course.description_source,
    course.description_format,
    course.description_html,
  );
  const description = form.elements.namedItem("description");
  description.value = written.text;
  description.dataset.original = written.text;
  const format = descriptionFormat(form);
  format.value = written.format;
  format.dataset.original = written.format;
  set("category_id", course.category_id || "");
  set("level", course.level);
  set("language", course.language);
  set("tags", course.tags.join(", "));
  set("price", toMajor(course.price_cents, course.currency).toFixed(fractionDigits(course.currency)));
  set("currency", course.currency);
  priceStep(form);
  // Shown once the API has the field (the subscription's courses); a PATCH sends it only then.
  const included = document.getElementById("course-included");
  included.checked = Boolean(course.included_in_subscription);
  document.getElementById("course-included-field").hidden = !("included_in_subscription" in course);
  set("capacity", course.capacity ?? "");
  set("enrollment_opens_at", toLocalInput(course.enrollment_opens_at));
  set("enrollment_closes_at", toLocalInput(course.enrollment_closes_at));
}

/** The price input's step follows the currency's minor unit: 0.01 for EUR, 1 for JPY. */
function priceStep(form) {
  const digits = fractionDigits(form.elements.namedItem("currency").value.trim());
  form.elements.namedItem("price").step = digits ? (1 / 10 ** digits).toFixed(digits) : "1";
}

function readSettings(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = {
    title: value("title"),
    summary: value("summary"),
    category_id: value("category_id") || null,
    level: value("level"),
    language: value("language"),
    tags: value("tags")
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean),
    price_cents: toMinor(value("price"), value("currency")),
    currency: value("currency").toUpperCase(),
    capacity: value("capacity") ? Number(value("capacity")) : null,
    enrollment_opens_at: fromLocalInput(value("enrollment_opens_at")),
    enrollment_closes_at: fromLocalInput(value("enrollment_closes_at")),
  };
  if (!document.getElementById("course-included-field").hidden) {
    body.included_in_subscription = document.getElementById("course-included").checked;
  }
  // Send the description (in its format) only when the author changed it or its format.
  const description = form.elements.namedItem("description");
  const format = form.elements.namedItem("description_format");
  if (
    description.value !== description.dataset.original ||
    format.value !== format.dataset.original
  ) {
    body.description = description.value;
    body.description_format = format.value;
  }
  return body;
}

/** Marks the inputs a 422 names (loc ["body", field]) as invalid. */
function markFieldErrors(form, error) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (!(error instanceof ApiError)) return;
  for (const problem of error.fieldErrors) {
    const name = Array.isArray(problem.loc) ? problem.loc[problem.loc.length - 1] : null;
    const alias = name === "price_cents" ? "price" : name;
    const input = alias ? form.elements.namedItem(alias) : null;
    if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
  }
}

async function editorPage() {
  const courseId = pathTail();
  let course;
  try {
    course = await api("GET", `/courses/${encodeURIComponent(courseId)}`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) {
      document.getElementById("editor-loading").hidden = true;
      sayProblem(messages, error, "Sign in to edit courses: ");
    } else if (error.status === 404 || error.status === 422) {
      showDenied();
    } else {
      document.getElementById("editor-loading").hidden = true;
      sayProblem(messages, error, "The course cannot be loaded: ");
    }
    return;
  }
  if (!EDITOR_ROLES.has(course.your_role)) {
    showDenied(
      "You are not allowed to edit this course: only its owner, its co-instructors and " +
        "administrators can.",
    );
    document.getElementById("denied-title").textContent = "Not allowed";
    return;
  }

  const form = document.getElementById("course-form");
  const categories = await api("GET", "/categories").catch(() => ({ items: [] }));
  const select = form.elements.namedItem("category_id");
  for (const category of categories.items) {
    const option = el("option", category.name);
    option.value = category.id;
    select.append(option);
  }

  let promotionLink = null;
  function showCourse(next) {
    course = next;
    document.title = `${course.title} · Editor · Seminar`;
    document.getElementById("course-title").textContent = course.title;
    const status = document.getElementById("course-status");
    status.textContent = STATUS[course.status] || course.status;
    status.className = `status status-${course.status}`;
    const view = document.getElementById("course-view");
    view.href = `/courses/${encodeURIComponent(course.slug)}`;
    view.hidden = course.status === "draft";
    // The course's gradebook (static/gradebook.js), beside the catalog link.
    if (!view.parentNode.querySelector(".gradebook-link")) {
      const gradebook = el("a", "Gradebook", "gradebook-link");
      gradebook.href = `/teach/courses/${course.id}/gradebook`;
      view.after(" · ", gradebook);
      const banks = el("a", "Question banks", "question-banks-link");
      banks.href = `/teach/courses/${course.id}/question-banks`;
      gradebook.after(" · ", banks);
      // Promotion codes: a paid course's, for its owner and admins (the API refuses others).
      promotionLink = el("span", " · ", "promotion-codes-link");
      promotionLink.append(link(`/teach/courses/${course.id}/promotion-codes`, "Promotion codes"));
      banks.after(promotionLink);
    }
    promotionLink.hidden = !(course.price_cents > 0 && ["owner", "admin"].includes(course.your_role));
    document.getElementById("publish").hidden = course.status !== "draft";
    document.getElementById("archive").hidden =
      course.status === "archived" || !["owner", "admin"].includes(course.your_role);
    showThumbnail(course);
  }

  fillSettings(form, course);
  form.elements.namedItem("currency").addEventListener("input", () => priceStep(form));
  showCourse(course);
  document.getElementById("editor-loading").hidden = true;
  document.getElementById("editor").hidden = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const saved = await api("PATCH", `/courses/${course.id}`, readSettings(form));
      markFieldErrors(form, null);
      fillSettings(form, saved);
      showCourse(saved);
      say(messages, "Settings saved.", "success");
    } catch (error) {
      markFieldErrors(form, error);
      sayProblem(messages, error, "The settings could not be saved: ");
    } finally {
      submit.disabled = false;
    }
  });

  const publishProblem = document.getElementById("publish-problem");
  async function lifecycle(action, done) {
    publishProblem.replaceChildren();
    try {
      const next = await api("POST", `/courses/${course.id}/${action}`);
      showCourse(next);
      say(messages, done, "success");
    } catch (error) {
      publishProblem.append(el("p", problemText(error)));
    }
  }
  document.getElementById("publish").addEventListener("click", () =>
    lifecycle("publish", "The course is published: students can find it in the catalog."),
  );
  document.getElementById("archive").addEventListener("click", () => {
    if (!window.confirm("Archive this course? No one can enroll in it any more.")) return;
    lifecycle("archive", "The course is archived.");
  });

  setUpThumbnail(() => course, showCourse);
  const outline = new OutlineEditor(course.id, document.getElementById("modules"), messages);
  await outline.load();
  document.getElementById("module-form").addEventListener("submit", (event) => {
    event.preventDefault();
    outline.addModule(event.target);
  });
}

// --- thumbnail ---------------------------------------------------------------------------------

function showThumbnail(course) {
  const img = document.getElementById("thumbnail-preview");
  const none = document.getElementById("thumbnail-none");
  const remove = document.getElementById("thumbnail-remove");
  if (course.thumbnail_url) {
    // The address stays the same across uploads: a version parameter defeats the cache.
    const sep = course.thumbnail_url.includes("?") ? "&" : "?";
    img.src = `${course.thumbnail_url}${sep}v=${encodeURIComponent(course.updated_at)}`;
    img.hidden = false;
    none.hidden = true;
    remove.hidden = false;
  } else if (!img.dataset.local) {
    img.hidden = true;
    img.removeAttribute("src");
    none.hidden = false;
    remove.hidden = true;
  }
}

function setUpThumbnail(current, showCourse) {
  const input = document.getElementById("thumbnail-file");
  const img = document.getElementById("thumbnail-preview");
  const problem = document.getElementById("thumbnail-problem");
  const slot = document.getElementById("thumbnail-progress");
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    problem.replaceChildren();
    // Preview the chosen picture at once (a data: URL; the CSP allows img-src data:).
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      img.src = reader.result;
      img.dataset.local = "1";
      img.hidden = false;
      document.getElementById("thumbnail-none").hidden = true;
    });
    reader.readAsDataURL(file);
    const bar = progressLine(`Uploading ${file.name}: 0 %`);
    slot.replaceChildren(bar.node);
    input.disabled = true;
    try {
      const saved = await uploadRaw(`/courses/${current().id}/thumbnail`, file, (loaded, total) => {
        const percent = total ? Math.round((loaded / total) * 100) : 0;
        bar.set(percent, `Uploading ${file.name}: ${percent} %`);
      });
      bar.set(100, `Uploaded ${file.name}.`);
      delete img.dataset.local;
      showCourse(saved);
      say(messages, "Thumbnail saved.", "success");
    } catch (error) {
      bar.set(0, `${file.name} was not uploaded.`);
      delete img.dataset.local;
      showThumbnail(current());
      problem.append(el("p", problemText(error)));
    } finally {
      input.disabled = false;
      input.value = "";
    }
  });
  document.getElementById("thumbnail-remove").addEventListener("click", async () => {
    problem.replaceChildren();
    try {
      await api("DELETE", `/courses/${current().id}/thumbnail`);
      const course = await api("GET", `/courses/${current().id}`);
      showCourse(course);
      slot.replaceChildren();
      say(messages, "Thumbnail removed.", "success");
    } catch (error) {
      problem.append(el("p", problemText(error)));
    }
  });
}

if (document.body.dataset.page === "editor") editorPage();
addAccountLinks();
