// /live: the caller's live and upcoming sessions (GET /users/me/live-sessions), with a Join link
// for the live ones; for the courses one teaches, Start (scheduled) and End (live) buttons.
// A plain ES module (CSP script-src 'self'); server text goes in with textContent only.

import { ApiError, api } from "./api.js";
import { addAccountLinks } from "./nav.js";
import { button, el, fromLocalInput, link, say, sayProblem, toLocalInput } from "./ui.js";

const messages = document.getElementById("messages");
const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
// Course roles that may start and end a course's sessions (a TA may not).
const EDITORS = new Set(["owner", "co_instructor", "admin"]);

/** The courses whose sessions the caller may schedule, start and end: id -> title. */
async function taughtCourses() {
  const ids = new Map();
  let cursor = null;
  try {
    do {
      const params = new URLSearchParams({ limit: "100" });
      if (cursor) params.set("cursor", cursor);
      const page = await api("GET", `/courses?${params}`);
      for (const course of page.items) {
        if (EDITORS.has(course.your_role)) ids.set(course.id, course.title);
      }
      cursor = page.next_cursor;
    } while (cursor);
  } catch (error) {
    // Students may not list courses they teach (or the list is missing): no Start/End then.
    if (!(error instanceof ApiError)) throw error;
  }
  return ids;
}

function sessionItem(session, teaches, onChange) {
  const li = el("li", null, "card course-item live-item");
  li.dataset.liveSessionId = session.id;
  li.dataset.status = session.status;
  const title = el("h2", null, "course-item-title");
  if (session.status === "live") title.append(link(`/live/${session.id}`, session.title));
  else title.append(session.title);
  li.append(title);

  const facts = el("p", null, "muted course-facts");
  const badge = el(
    "span",
    session.status === "live" ? "Live now" : "Scheduled",
    `status status-live-${session.status}`,
  );
  facts.append(badge, " · ");
  facts.append(link(`/courses/${encodeURIComponent(session.course.slug)}`, session.course.title));
  const start = new Date(session.started_at || session.scheduled_start);
  facts.append(
    ` · ${session.status === "live" ? "started" : "starts"} ${WHEN.format(start)}`,
    ` · ${session.duration_minutes} min`,
  );
  li.append(facts);
  if (session.description) li.append(el("p", session.description));

  const actions = el("p", null, "live-actions");
  if (session.status === "live") {
    const join = link(`/live/${session.id}`, "Join", "button");
    join.setAttribute("aria-label", `Join ${session.title}`);
    actions.append(join);
  }
  if (teaches) {
    const verb = session.status === "live" ? "end" : "start";
    const act = button(
      verb === "end" ? "End session" : "Start session",
      verb === "end" ? "button secondary" : "button",
      `${verb === "end" ? "End" : "Start"} ${session.title}`,
    );
    act.addEventListener("click", async () => {
      act.disabled = true;
      try {
        await api("POST", `/live-sessions/${session.id}/${verb}`);
        say(messages, `“${session.title}” ${verb === "end" ? "has ended" : "is live"}.`, "success");
        await onChange();
      } catch (error) {
        sayProblem(messages, error, `The session could not be ${verb}ed: `);
        act.disabled = false;
      }
    });
    actions.append(act);
  }
  if (actions.children.length) li.append(actions);
  return li;
}

/** Instructors schedule a session of one of their courses here. */
function scheduleForm(courses, onScheduled) {
  const section = document.getElementById("schedule");
  const form = document.getElementById("schedule-form");
  const select = form.elements.namedItem("course");
  for (const [id, title] of courses) {
    const option = el("option", title);
    option.value = id;
    select.append(option);
  }
  const start = form.elements.namedItem("start");
  const inAnHour = new Date(Date.now() + 60 * 60 * 1000);
  inAnHour.setMinutes(0, 0, 0);
  start.value = toLocalInput(inAnHour.toISOString());
  section.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.namedItem("title");
    const missing = [title, start].filter((input) => !input.value.trim());
    for (const input of [title, start]) {
      if (missing.includes(input)) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    if (missing.length) {
      say(messages, "Give the session a title and a start time.", "error");
      missing[0].focus();
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const session = await api("POST", `/courses/${select.value}/live-sessions`, {
        title: title.value.trim(),
        description: form.elements.namedItem("description").value.trim(),
        scheduled_start: fromLocalInput(start.value),
        duration_minutes: Number(form.elements.namedItem("duration").value),
      });
      say(messages, `“${session.title}” is scheduled.`, "success");
      title.value = "";
      form.elements.namedItem("description").value = "";
      await onScheduled();
    } catch (error) {
      sayProblem(messages, error, "The session could not be scheduled: ");
    } finally {
      submit.disabled = false;
    }
  });
}

function livePage() {
  const list = document.getElementById("live-sessions");
  const loading = document.getElementById("live-loading");
  const empty = document.getElementById("live-empty");
  const more = document.getElementById("live-more");
  const refresh = document.getElementById("live-refresh");
  let cursor = null;
  let teaching = new Map();

  async function load(reset) {
    if (reset) cursor = null;
    more.disabled = true;
    try {
      const params = new URLSearchParams();
      if (cursor) params.set("cursor", cursor);
      const page = await api("GET", `/users/me/live-sessions${params.size ? `?${params}` : ""}`);
      const items = page.items.map((s) =>
        sessionItem(s, teaching.has(s.course.id), () => load(true)),
      );
      if (reset) list.replaceChildren(...items);
      else list.append(...items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
      list.dataset.loaded = "true";
    } catch (error) {
      sayProblem(messages, error, "Your live sessions cannot be shown: ");
    } finally {
      loading.hidden = true;
      more.disabled = false;
    }
  }

  more.addEventListener("click", () => load(false));
  refresh.addEventListener("click", () => load(true));
  taughtCourses().then((ids) => {
    teaching = ids;
    load(true);
    if (ids.size) scheduleForm(ids, () => load(true));
  });
}

if (document.body.dataset.page === "live") livePage();
addAccountLinks();
