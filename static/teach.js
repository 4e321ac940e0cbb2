// /teach: the courses the caller teaches (owner or staff; admins see all), newest first, with
// their status, and a form that creates a draft course and opens it in the editor.
// A plain ES module (CSP script-src 'self'); server text goes in with textContent only.

import { ApiError, api } from "./api.js";
import { addAccountLinks } from "./nav.js";
import { el, link, say, sayProblem } from "./ui.js";

const messages = document.getElementById("messages");

const STATUS = { draft: "Draft", published: "Published", archived: "Archived" };

function courseItem(course) {
  const li = el("li", null, "card course-item teach-item");
  li.dataset.courseId = course.id;
  if (course.thumbnail_url) {
    const img = document.createElement("img");
    img.src = course.thumbnail_url;
    img.alt = ""; // decorative: the title next to it names the course
    img.className = "teach-thumb";
    li.append(img);
  }
  const title = el("h3", null, "course-item-title");
  title.append(link(`/teach/${course.id}`, course.title));
  li.append(title);
  const status = el("span", STATUS[course.status] || course.status, `status status-${course.status}`);
  const facts = el("p", null, "muted course-facts");
  facts.append(status, ` · ${course.your_role.replace("_", " ")}`);
  if (course.status !== "draft") {
    facts.append(" · ", link(`/courses/${encodeURIComponent(course.slug)}`, "View in catalog"));
  }
  // Every staff member (teaching assistants too) grades from the gradebook and its items' queues.
  facts.append(" · ", link(`/teach/courses/${course.id}/gradebook`, "Gradebook"));
  li.append(facts);
  if (course.summary) li.append(el("p", course.summary));
  return li;
}

function teachPage() {
  const list = document.getElementById("teach-courses");
  const loading = document.getElementById("teach-loading");
  const empty = document.getElementById("teach-empty");
  const more = document.getElementById("teach-more");
  const form = document.getElementById("new-course-form");
  let cursor = null;

  async function load() {
    const params = new URLSearchParams();
    if (cursor) params.set("cursor", cursor);
    more.disabled = true;
    try {
      const page = await api("GET", `/courses${params.size ? `?${params}` : ""}`);
      list.append(...page.items.map(courseItem));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    } catch (error) {
      if (error instanceof ApiError && error.status === 405) {
        say(messages, "The list of your courses is not available on this server yet.", "error");
      } else {
        sayProblem(messages, error, "Your courses cannot be shown: ");
      }
    } finally {
      loading.hidden = true;
      more.disabled = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.namedItem("title");
    const summary = form.elements.namedItem("summary");
    if (!title.value.trim()) {
      title.setAttribute("aria-invalid", "true");
      say(messages, "Give the course a title.", "error");
      title.focus();
      return;
    }
    title.removeAttribute("aria-invalid");
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const course = await api("POST", "/courses", {
        title: title.value.trim(),
        summary: summary.value.trim(),
      });
      window.location.assign(`/teach/${course.id}`);
    } catch (error) {
      sayProblem(messages, error, "The course could not be created: ");
      submit.disabled = false;
    }
  });

  more.addEventListener("click", load);
  load();
}

if (document.body.dataset.page === "teach") teachPage();
addAccountLinks();
