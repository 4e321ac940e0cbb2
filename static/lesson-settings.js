// /teach/lessons/{lesson id}/settings: a graded lesson's settings for its instructors. A quiz
// lesson gets the quiz builder (teach-quiz.js); an assignment lesson its settings, attachments
// and rubric (assignment-editor.js, assignment-rubric.js).

import { api } from "./api.js";
import { AssignmentEditor } from "./assignment-editor.js";
import { QuizBuilder } from "./teach-quiz.js";
import { EDITOR_ROLES, body, fail, messages, refuse, segments, show } from "./page-shell.js";
import { el, link } from "./ui.js";

async function lessonSettingsPage() {
  const lessonId = segments()[2];
  let lesson;
  let course;
  try {
    lesson = await api("GET", `/lessons/${encodeURIComponent(lessonId)}`);
    course = await api("GET", `/courses/${lesson.course_id}`);
  } catch (error) {
    fail(error, "This lesson cannot be edited: ");
    return;
  }
  if (!EDITOR_ROLES.has(course.your_role)) {
    refuse("Only the course's owner, its co-instructors and administrators can edit this lesson.");
    return;
  }
  if (lesson.kind !== "quiz" && lesson.kind !== "assignment") {
    refuse("Only quiz and assignment lessons have settings here.");
    return;
  }
  const what = lesson.kind === "quiz" ? "Quiz builder" : "Assignment";
  show({
    title: `${what}: ${lesson.title}`,
    subtitle: course.title,
    back: `/teach/${course.id}`,
    backText: `Back to the course editor`,
  });
  const links = el("p", null, "page-links");
  links.append(
    link(`/learn/${lesson.id}`, "Open the lesson"),
    " · ",
    link(`/teach/lessons/${lesson.id}/grading`, "Grading queue"),
  );
  const root = el("div", null, "lesson-settings");
  body().append(links, root);
  try {
    const editor = lesson.kind === "quiz" ? new QuizBuilder(lesson, root, messages) : new AssignmentEditor(lesson, root, messages);
    await editor.load();
  } catch (error) {
    fail(error, "The settings cannot be loaded: ");
  }
}

if (document.body.dataset.page === "lesson-settings") lessonSettingsPage();
