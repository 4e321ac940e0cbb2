// The course pages of the browser client:
//   /catalog                  search the published courses (filters, sort, "more" by cursor)
//   /courses/{slug or id}     one course: description, outline, Enroll
//   /my                       the caller's courses with their progress and a Continue link
//   /learn/{lesson id}        one lesson (text, link, file and video lessons: player.js),
//                             Mark complete, course progress
// A plain ES module (no inline script: CSP script-src 'self'). Text from the server is set with
// textContent; the only HTML inserted is the server-sanitised description_html / body_html
// (see insertSanitisedHtml).

import { ApiError, api } from "./api.js";
import { activeEnrollment, setUpPurchase } from "./course-buy.js";
import { coursePrice } from "./money.js";
import { addAccountLinks, currentUser } from "./nav.js";
import { playVideo, showFile } from "./player.js";

// --- Shared helpers ---------------------------------------------------------------------------

const messages = document.getElementById("messages");

function say(text, kind = "info") {
  messages.replaceChildren();
  messages.className = `messages ${kind}`;
  if (!text) return;
  const p = document.createElement("p");
  p.textContent = text;
  messages.append(p);
}

/** Says what went wrong; a 401 also links to the sign-in page. */
function sayProblem(error, prefix = "") {
  if (!(error instanceof ApiError)) throw error;
  const reference = error.status >= 500 && error.requestId ? ` (reference ${error.requestId})` : "";
  say(`${prefix}${error.message}${reference}`, "error");
  if (error.status === 401) messages.append(signInLink());
}

function signInLink() {
  const p = document.createElement("p");
  const a = document.createElement("a");
  a.href = "/";
  a.textContent = "Sign in or create an account";
  p.append(a);
  return p;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function link(href, text, className) {
  const a = el("a", text, className);
  a.href = href;
  return a;
}

/** The last segment of the address: the course slug or id, or the lesson id. */
function pathTail() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || "");
}

const LEVELS = {
  beginner: "Beginner",
  intermediate: "Intermediate",
  advanced: "Advanced",
  all: "All levels",
};

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Puts server-sanitised HTML into ``target``.
 *
 * This is the ONE place where the client inserts HTML rather than text, and it is only ever
 * given a course's ``description_html`` or a lesson's ``body_html``: the server renders those
 * from the author's Markdown/HTML and sanitises them with an allow-list (no script, no event
 * handler attributes, no javascript: URLs) before storing them. The markup is parsed by
 * DOMParser into an inert document (scripts in it never run) and its nodes moved over; the
 * page's CSP (script-src 'self') is the second line of defence should the sanitiser miss
 * something. Never pass anything else here.
 */
function insertSanitisedHtml(target, sanitisedHtml) {
  const parsed = new DOMParser().parseFromString(sanitisedHtml || "", "text/html");
  for (const a of parsed.body.querySelectorAll("a[href]")) {
    a.setAttribute("rel", "noopener noreferrer nofollow");
  }
  target.replaceChildren(...parsed.body.childNodes);
}

function progressBar(percent, label) {
  const wrap = el("div", null, "progress-block");
  const id = `progress-${Math.random().toString(36).slice(2)}`;
  const text = el("p", `${percent} % complete`, "progress-label");
  text.id = id;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = percent;
  bar.setAttribute("aria-labelledby", id);
  if (label) bar.setAttribute("aria-label", label);
  wrap.append(text, bar);
  return wrap;
}

async function signedInUser() {
  return currentUser();
}

// --- /catalog ---------------------------------------------------------------------------------

function catalogItem(course) {
  const li = el("li", null, "card course-item");
  const title = el("h2", null, "course-item-title");
  title.append(link(`/courses/${encodeURIComponent(course.slug)}`, course.title));
  li.append(title);
  if (course.summary) li.append(el("p", course.summary));
  const facts = [
    course.instructor?.name ? `by ${course.instructor.name}` : null,
    LEVELS[course.level] || course.level,
    course.language,
    coursePrice(course),
    course.included_in_subscription ? "In the subscription" : null,
    plural(course.enrollment_count, "student", "students"),
  ].filter(Boolean);
  li.append(el("p", facts.join(" · "), "muted course-facts"));
  return li;
}

function catalogPage() {
  const form = document.getElementById("catalog-form");
  const results = document.getElementById("catalog-results");
  const more = document.getElementById("catalog-more");
  const count = document.getElementById("catalog-count");
  let cursor = null;
  let shown = 0;
  // A new search supersedes every request still on its way: answers arriving late (the first,
  // unfiltered page after the user's search) must not overwrite newer results.
  let generation = 0;

  // The search lives in the address (?q=…&level=…), so a search can be bookmarked and shared.
  const initial = new URLSearchParams(window.location.search);
  for (const name of ["q", "level", "language", "price", "sort"]) {
    const input = form.elements.namedItem(name);
    if (initial.has(name)) input.value = initial.get(name);
  }

  function query() {
    const params = new URLSearchParams();
    for (const name of ["q", "level", "language", "price", "sort"]) {
      const value = form.elements.namedItem(name).value.trim();
      if (value) params.set(name, value);
    }
    return params;
  }

  async function load(append) {
    const params = query();
    if (append && cursor) params.set("cursor", cursor);
    if (!append) generation += 1;
    const mine = generation;
    results.setAttribute("aria-busy", "true");
    more.disabled = true;
    try {
      const page = await api("GET", `/catalog?${params}`);
      if (mine !== generation) return;
      if (!append) {
        results.replaceChildren();
        shown = 0;
      }
      results.append(...page.items.map(catalogItem));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      count.textContent =
        shown === 0 ? "No course matches." : `Showing ${plural(shown, "course", "courses")}.`;
      say("");
    } catch (error) {
      if (mine === generation) sayProblem(error, "The catalog could not be loaded: ");
    } finally {
      if (mine === generation) {
        results.removeAttribute("aria-busy");
        more.disabled = false;
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = query();
    const search = params.toString();
    window.history.replaceState(null, "", search ? `/catalog?${search}` : "/catalog");
    load(false);
  });
  more.addEventListener("click", () => load(true));
  load(false);
}

// --- /courses/{slug or id} --------------------------------------------------------------------

function outlineList(course, enrolled) {
  const modules = [];
  for (const module of course.outline) {
    const li = el("li", null, "outline-module");
    li.append(el("h3", module.title));
    const lessons = el("ol", null, "outline-lessons");
    for (const lesson of module.lessons) {
      const item = el("li");
      if (enrolled || lesson.is_preview) {
        item.append(link(`/learn/${lesson.id}`, lesson.title));
      } else {
        item.append(el("span", lesson.title));
      }
      const notes = [lesson.kind];
      if (lesson.estimated_minutes) notes.push(`${lesson.estimated_minutes} min`);
      item.append(el("span", ` · ${notes.join(" · ")}`, "muted"));
      if (lesson.is_preview) item.append(el("span", "Preview", "badge"));
      lessons.append(item);
    }
    li.append(lessons);
    modules.push(li);
  }
  return modules;
}

async function coursePage() {
  const loading = document.getElementById("course-loading");
  const article = document.getElementById("course");
  const enroll = document.getElementById("enroll");
  const continueLink = document.getElementById("course-continue");
  const problem = document.getElementById("enroll-problem");
  let course;
  try {
    course = await api("GET", `/catalog/${encodeURIComponent(pathTail())}`);
  } catch (error) {
    loading.hidden = true;
    sayProblem(error, "This course cannot be shown: ");
    return;
  }
  document.title = `${course.title} · Seminar`;
  document.getElementById("course-title").textContent = course.title;
  document.getElementById("course-summary").textContent = course.summary;
  const instructors = course.instructors.length
    ? course.instructors.map((person) => person.name)
    : [course.instructor.name];
  document.getElementById("course-instructor").textContent = instructors.join(", ");
  document.getElementById("course-price").textContent = coursePrice(course);
  document.getElementById("course-level").textContent = LEVELS[course.level] || course.level;
  document.getElementById("course-enrolled").textContent = plural(
    course.enrollment_count,
    "student",
    "students",
  );
  insertSanitisedHtml(document.getElementById("course-description"), course.description_html);
  document.getElementById("course-totals").textContent =
    `${plural(course.lesson_count, "lesson", "lessons")}` +
    (course.total_minutes ? `, about ${course.total_minutes} min` : "");

  const outline = document.getElementById("course-outline");
  function showOutline(enrolled) {
    outline.replaceChildren(...outlineList(course, enrolled));
  }

  async function showEnrolled(continueText = null) {
    enroll.hidden = true;
    document.getElementById("purchase").hidden = true;
    if (continueText) continueLink.textContent = continueText;
    continueLink.hidden = false;
    showOutline(true);
    if (!continueLink.parentNode.querySelector(".my-grades-link")) {
      continueLink.after(" ", link(`/courses/${course.id}/grades`, "My grades", "button secondary my-grades-link"));
    }
    try {
      const next = await api("GET", `/courses/${course.id}/continue`);
      if (next.lesson_id) continueLink.href = `/learn/${next.lesson_id}`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }

  const user = await signedInUser();
  let enrolled = false;
  if (user) enrolled = await activeEnrollment(course.id).catch(() => false);
  showOutline(enrolled);
  loading.hidden = true;
  article.hidden = false;
  if (enrolled) await showEnrolled();

  enroll.addEventListener("click", async () => {
    problem.replaceChildren();
    enroll.disabled = true;
    try {
      await api("POST", `/courses/${course.id}/enrollments`);
      say(`You are enrolled in ${course.title}.`, "success");
      await showEnrolled();
      continueLink.focus();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) {
        problem.append(el("p", "Sign in to enroll in this course."), signInLink());
      } else if (error.status === 402 || error.code === "payment_required") {
        problem.append(el("p", "This is a paid course: buy it to enroll."));
      } else {
        // 409 course_full, prerequisites_missing, enrollment closed…: the server's detail says it.
        problem.append(el("p", error.message));
        if (error.code === "prerequisites_missing" && course.prerequisites.length) {
          const list = el("ul");
          for (const pre of course.prerequisites) {
            const li = el("li");
            li.append(link(`/courses/${encodeURIComponent(pre.slug)}`, pre.title));
            list.append(li);
          }
          problem.append(list);
        }
      }
    } finally {
      enroll.disabled = false;
    }
  });
  const purchase = {
    box: document.getElementById("purchase"),
    status: document.getElementById("checkout-status"),
    enroll,
    problem,
  };
  await setUpPurchase(course, user, enrolled, purchase, async (message, continueText) => {
    if (message) say(message, "success");
    await showEnrolled(continueText);
    continueLink.focus();
  });
}

// --- /my --------------------------------------------------------------------------------------

function myCourseItem(enrollment) {
  const li = el("li", null, "card course-item");
  const title = el("h2", null, "course-item-title");
  title.append(link(`/courses/${encodeURIComponent(enrollment.course.slug)}`, enrollment.course.title));
  li.append(title);
  li.append(progressBar(enrollment.progress_percent, `Progress in ${enrollment.course.title}`));
  const actions = el("p");
  const go = link(`/courses/${encodeURIComponent(enrollment.course.slug)}`, "Continue", "button");
  go.setAttribute("aria-label", `Continue ${enrollment.course.title}`);
  const grades = link(`/courses/${enrollment.course_id}/grades`, "Grades", "button secondary");
  grades.setAttribute("aria-label", `Grades in ${enrollment.course.title}`);
  actions.append(go, " ", grades);
  li.append(actions);
  // Where to continue is asked per course (/continue); until it answers, the link opens the
  // course page.
  api("GET", `/courses/${enrollment.course_id}/continue`)
    .then((next) => {
      if (next.lesson_id) {
        go.href = `/learn/${next.lesson_id}`;
      } else if (next.reason === "done") {
        go.textContent = "Review";
        go.setAttribute("aria-label", `Review ${enrollment.course.title}`);
      }
    })
    .catch((error) => {
      if (!(error instanceof ApiError)) throw error;
    });
  return li;
}

function myPage() {
  const list = document.getElementById("my-courses");
  const loading = document.getElementById("my-loading");
  const empty = document.getElementById("my-empty");
  const more = document.getElementById("my-more");
  let cursor = null;

  async function load() {
    const params = new URLSearchParams({ limit: "20" });
    if (cursor) params.set("cursor", cursor);
    more.disabled = true;
    try {
      const page = await api("GET", `/users/me/enrollments?${params}`);
      const active = page.items.filter((item) => item.status !== "cancelled");
      list.append(...active.map(myCourseItem));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0 || Boolean(cursor);
    } catch (error) {
      sayProblem(error, "Your courses cannot be shown: ");
    } finally {
      loading.hidden = true;
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  load();
}

// --- /learn/{lesson id} -----------------------------------------------------------------------

async function learnPage() {
  const loading = document.getElementById("lesson-loading");
  const article = document.getElementById("lesson");
  const complete = document.getElementById("complete");
  const progressBlock = document.getElementById("progress");
  const next = document.getElementById("lesson-next");
  let lesson;
  try {
    lesson = await api("GET", `/lessons/${encodeURIComponent(pathTail())}`);
  } catch (error) {
    loading.hidden = true;
    // 403 enrollment_required, 409 lesson_not_released (locked), 404…: the detail says which.
    sayProblem(error, "This lesson cannot be shown: ");
    if (error.code === "enrollment_required" || error.status === 403) {
      messages.append(el("p", "Enroll in the course to see its lessons."));
    }
    return;
  }
  document.title = `${lesson.title} · Seminar`;
  document.getElementById("lesson-title").textContent = lesson.title;
  document.getElementById("lesson-course").href = `/courses/${lesson.course_id}`;
  if (lesson.kind === "text") {
    insertSanitisedHtml(document.getElementById("lesson-body"), lesson.body_html);
  } else if (lesson.kind === "link" && lesson.url && /^https?:\/\//i.test(lesson.url)) {
    insertSanitisedHtml(document.getElementById("lesson-body"), lesson.body_html);
    document.getElementById("lesson-url").href = lesson.url;
    document.getElementById("lesson-link").hidden = false;
  } else if (lesson.kind === "video") {
    insertSanitisedHtml(document.getElementById("lesson-body"), lesson.body_html);
    document.getElementById("lesson-video").hidden = false;
  } else if (lesson.kind === "file") {
    insertSanitisedHtml(document.getElementById("lesson-body"), lesson.body_html);
    document.getElementById("lesson-file").hidden = false;
  } else if (lesson.kind === "quiz" || lesson.kind === "assignment") {
    // static/quiz.js and static/assignment.js (loaded by player.js) show the quiz or assignment.
    insertSanitisedHtml(document.getElementById("lesson-body"), lesson.body_html);
  } else {
    document.getElementById("lesson-unsupported").hidden = false;
  }
  loading.hidden = true;
  article.hidden = false;

  async function showProgress() {
    const progress = await api("GET", `/courses/${lesson.course_id}/progress`);
    document.getElementById("progress-text").textContent =
      `Course progress: ${progress.percent} % ` +
      `(${progress.completed_required_lessons} of ${plural(progress.required_lessons, "lesson", "lessons")})`;
    document.getElementById("progress-bar").value = progress.percent;
    progressBlock.hidden = false;
    if (progress.completed_lesson_ids.includes(lesson.id)) {
      complete.textContent = "Completed";
      complete.disabled = true;
    }
    const after = await api("GET", `/courses/${lesson.course_id}/continue`);
    if (after.lesson_id && after.lesson_id !== lesson.id) {
      next.href = `/learn/${after.lesson_id}`;
      next.textContent = `Next: ${after.title}`;
      next.hidden = false;
    }
  }

  if (lesson.kind === "video") {
    const video = document.getElementById("video");
    video.setAttribute("aria-label", `Video: ${lesson.title}`);
    playVideo(lesson, video, document.getElementById("video-state"), () => {
      say("You watched this video: the lesson is complete.", "success");
      showProgress().catch(() => {});
    });
  } else if (lesson.kind === "file") {
    showFile(lesson, document.getElementById("file-name"), document.getElementById("file-download"));
  }
  // Enrolled students see their course progress from the start (others get 401/403 here).
  showProgress().catch((error) => {
    if (!(error instanceof ApiError)) throw error;
  });

  complete.addEventListener("click", async () => {
    complete.disabled = true;
    try {
      await api("POST", `/lessons/${lesson.id}/complete`);
      say("Lesson marked complete.", "success");
      await showProgress();
    } catch (error) {
      complete.disabled = false;
      sayProblem(error, "The lesson could not be marked complete: ");
    }
  });
}

// ---------------------------------------------------------------------------------------------

const PAGES = { catalog: catalogPage, course: coursePage, my: myPage, learn: learnPage };
PAGES[document.body.dataset.page]?.();
addAccountLinks();
