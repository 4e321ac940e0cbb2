// The settings of an assignment lesson (/teach/lessons/{lesson id}/settings, for its
// instructors): the brief (Markdown or HTML) and its attachments, due date and late policy,
// what may be handed in (text, files, both; types, size, count), resubmission and the points
// it is worth; saved with PUT /lessons/{id}/assignment (the whole settings). Attachments go up
// as raw bodies (POST /lessons/{id}/assignment/attachments?filename=) with a progress bar.
// The rubric editor (assignment-rubric.js) sits below.

import { API, ApiError, api } from "./api.js";
import { button, el, formatBytes, fromLocalInput, problemText, progressLine, say, toLocalInput } from "./ui.js";
import { field, input, select } from "./teach-quiz.js";
import { RubricEditor } from "./assignment-rubric.js";

// The types a teacher may allow (lms_core/assignments/schemas.py ACCEPTABLE_TYPES), grouped.
const TYPE_GROUPS = {
  Documents: {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
    "application/msword": "Word 97 (.doc)",
    "application/vnd.oasis.opendocument.text": "OpenDocument text",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel (.xlsx)",
    "application/vnd.ms-excel": "Excel 97 (.xls)",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint (.pptx)",
    "application/vnd.ms-powerpoint": "PowerPoint 97 (.ppt)",
    "application/vnd.oasis.opendocument.presentation": "OpenDocument presentation",
    "application/epub+zip": "EPUB",
    "application/rtf": "RTF",
  },
  "Text and archives": {
    "text/plain": "Plain text",
    "text/markdown": "Markdown",
    "text/csv": "CSV",
    "application/zip": "ZIP",
  },
  Images: {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/avif": "AVIF",
  },
  "Audio and video": {
    "audio/mpeg": "MP3",
    "audio/mp4": "M4A",
    "audio/ogg": "Ogg audio",
    "audio/x-wav": "WAV",
    "video/mp4": "MP4 video",
    "video/webm": "WebM video",
    "video/quicktime": "QuickTime video",
  },
};
const TEXT_FORMATS = { markdown: "Markdown", html: "HTML" };

/** What the author wrote and its format (editors get ``brief_source``); else the HTML. */
function authorText(source, format, html) {
  if (source != null) return { text: source, format: format || "markdown" };
  return { text: html || "", format: "html" };
}

const LATE = { penalty: "Accept late work with a penalty", cutoff: "Refuse late work" };
const FORMATS = { both: "Text, files, or both", text: "Text only", files: "Files only" };
const MB = 1024 * 1024;
const DEFAULTS = {
  brief_html: "",
  brief_source: "",
  brief_format: "markdown",
  due_at: null,
  late_policy: "penalty",
  penalty_percent_per_day: 10,
  max_penalty_percent: 100,
  submission_format: "both",
  allowed_types: null,
  max_file_bytes: 20 * MB,
  max_files: 5,
  allow_resubmission: true,
  attachments: [],
};

function postRaw(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}${path}?filename=${encodeURIComponent(file.name)}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}") || {};
      } catch {
        body = {};
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: "The upload was cut off." }));
    xhr.send(file);
  });
}

export class AssignmentEditor {
  constructor(lesson, root, messages) {
    this.lesson = lesson;
    this.root = root;
    this.messages = messages;
  }

  async load() {
    let a = null;
    try {
      a = await api("GET", `/lessons/${this.lesson.id}/assignment`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code !== "assignment_not_found") throw error;
    }
    this.assignment = a;
    const rubric = el("section", null, "card rubric-editor");
    rubric.id = "rubric-editor";
    this.root.replaceChildren(this.settings(a || DEFAULTS), this.attachments(a), rubric);
    await new RubricEditor(this.lesson, rubric, this.messages).load();
  }

  settings(a) {
    const section = el("section", null, "card assignment-settings");
    const title = el("h2", "Assignment settings");
    title.id = "assignment-settings-title";
    section.setAttribute("aria-labelledby", title.id);
    const form = el("form", null, "settings-grid");
    form.id = "assignment-settings-form";
    form.noValidate = true;
    const written = authorText(a.brief_source, a.brief_format, a.brief_html);
    const brief = document.createElement("textarea");
    brief.name = "brief";
    brief.rows = 8;
    brief.value = written.text;
    const briefFormat = select("brief_format", TEXT_FORMATS, written.format);
    const due = input("datetime-local", "due_at", toLocalInput(a.due_at));
    const late = select("late_policy", LATE, a.late_policy);
    const perDay = input("number", "penalty_percent_per_day", a.penalty_percent_per_day);
    perDay.min = "0";
    perDay.max = "100";
    const maxPenalty = input("number", "max_penalty_percent", a.max_penalty_percent);
    maxPenalty.min = "0";
    maxPenalty.max = "100";
    const format = select("submission_format", FORMATS, a.submission_format);
    const maxFiles = input("number", "max_files", a.max_files);
    maxFiles.min = "0";
    maxFiles.max = "20";
    const maxMb = input("number", "max_file_mb", Number((a.max_file_bytes / MB).toFixed(2)));
    maxMb.min = "0.01";
    maxMb.step = "any";
    const resubmit = input("checkbox", "allow_resubmission", a.allow_resubmission);
    const resubmitLabel = el("label", null, "check");
    resubmitLabel.append(resubmit, " Allow resubmission until the due date");
    const worth = "points_possible" in a; // once the server has the field
    const pointsInput = input("number", "points_possible", a.points_possible ?? 100);
    pointsInput.min = "0.01";
    pointsInput.step = "any";

    const types = el("fieldset", null, "field wide type-choices");
    types.append(el("legend", "Accepted file types"));
    const everyType = Object.values(TYPE_GROUPS).flatMap((g) => Object.keys(g));
    const allowed = new Set(a.allowed_types || everyType.filter((t) => !/^(audio|video)\//.test(t)));
    const typeBoxes = [];
    for (const [group, entries] of Object.entries(TYPE_GROUPS)) {
      const wrap = el("div", null, "type-group");
      wrap.append(el("p", group, "type-group-title"));
      for (const [type, label] of Object.entries(entries)) {
        const box = input("checkbox", "allowed_types", allowed.has(type));
        box.value = type;
        const l = el("label", null, "check");
        l.append(box, ` ${label}`);
        wrap.append(l);
        typeBoxes.push(box);
      }
      types.append(wrap);
    }
    // Types allowed through the API that this list does not name are kept as they are.
    const others = [...allowed].filter((t) => !typeBoxes.some((b) => b.value === t));

    const latePart = [field("Penalty per started day late (%)", perDay), field("Largest penalty (%)", maxPenalty)];
    const showLate = () => {
      for (const part of latePart) part.hidden = late.value !== "penalty";
    };
    late.addEventListener("change", showLate);
    showLate();
    const filePart = [field("Files at most", maxFiles), field("Largest file (MB)", maxMb), types];
    const showFiles = () => {
      for (const part of filePart) part.hidden = format.value === "text";
    };
    format.addEventListener("change", showFiles);
    showFiles();
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    const save = el("button", "Save the assignment", "button");
    save.type = "submit";
    const briefField = field("Brief", brief, "What to do: shown to students rendered and sanitised.");
    briefField.classList.add("wide");
    const resubmitWrap = el("div", null, "field wide checks");
    resubmitWrap.append(resubmitLabel);
    const saveWrap = el("div", null, "field wide");
    saveWrap.append(save, problem);
    form.append(
      briefField,
      field("Brief written in", briefFormat),
      field("Due", due, "Empty: no due date."),
      field("Late work", late),
      ...latePart,
      field("Students hand in", format),
      ...filePart,
      resubmitWrap,
    );
    if (worth) form.append(field("Points possible", pointsInput));
    form.append(saveWrap);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.replaceChildren();
      const body = {
        brief: brief.value,
        brief_format: briefFormat.value,
        due_at: fromLocalInput(due.value),
        late_policy: late.value,
        penalty_percent_per_day: Number(perDay.value || 0),
        max_penalty_percent: Number(maxPenalty.value || 0),
        submission_format: format.value,
        allowed_types: [...typeBoxes.filter((b) => b.checked).map((b) => b.value), ...others],
        max_file_bytes: Math.max(1, Math.round(Number(maxMb.value || 0) * MB)),
        max_files: Number(maxFiles.value || 0),
        allow_resubmission: resubmit.checked,
      };
      if (worth && pointsInput.value !== "") body.points_possible = Number(pointsInput.value);
      if (format.value !== "text" && !body.allowed_types.length) {
        problem.append(el("p", "Accept at least one file type, or take text only."));
        return;
      }
      save.disabled = true;
      try {
        this.assignment = await api("PUT", `/lessons/${this.lesson.id}/assignment`, body);
        say(this.messages, "The assignment is saved.", "success");
        this.root.querySelector(".attachments-card")?.replaceWith(this.attachments(this.assignment));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        problem.append(el("p", problemText(error)));
        say(this.messages, "The assignment was not saved.", "error");
      } finally {
        save.disabled = false;
      }
    });
    section.append(title, form);
    return section;
  }

  attachments(a) {
    const section = el("section", null, "card attachments-card");
    const title = el("h2", "Attachments");
    title.id = "attachments-title";
    section.setAttribute("aria-labelledby", title.id);
    section.append(title);
    if (!a) {
      section.append(el("p", "Save the assignment first, then attach files to its brief.", "muted"));
      return section;
    }
    const list = el("ul", null, "attachment-list");
    for (const f of a.attachments) {
      const li = el("li");
      const link = el("a", f.filename);
      link.href = `${API}/lessons/${a.lesson_id}/assignment/attachments/${f.id}`;
      const remove = button("Remove", "button secondary small danger", `Remove ${f.filename}`);
      remove.addEventListener("click", async () => {
        if (!window.confirm(`Remove ${f.filename} from the brief?`)) return;
        try {
          await api("DELETE", `/lessons/${a.lesson_id}/assignment/attachments/${f.id}`);
          a.attachments = a.attachments.filter((x) => x.id !== f.id);
          section.replaceWith(this.attachments(a));
          say(this.messages, `${f.filename} removed.`, "success");
        } catch (error) {
          say(this.messages, problemText(error), "error");
        }
      });
      li.append(link, el("span", ` (${formatBytes(f.size)}) `, "muted"), remove);
      list.append(li);
    }
    if (!a.attachments.length) list.append(el("li", "No attachments.", "muted"));
    const file = input("file", "attachment", "");
    const slot = el("div");
    const problem = el("div", null, "messages error");
    problem.setAttribute("role", "alert");
    file.addEventListener("change", async () => {
      const chosen = file.files[0];
      if (!chosen) return;
      problem.replaceChildren();
      const bar = progressLine(`Uploading ${chosen.name}: 0 %`);
      slot.replaceChildren(bar.node);
      file.disabled = true;
      try {
        const added = await postRaw(`/lessons/${a.lesson_id}/assignment/attachments`, chosen, (l, t) => {
          const percent = t ? Math.round((l / t) * 100) : 0;
          bar.set(percent, `Uploading ${chosen.name}: ${percent} %`);
        });
        a.attachments = [...a.attachments, added];
        section.replaceWith(this.attachments(a));
        say(this.messages, `${chosen.name} attached.`, "success");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        bar.set(0, `${chosen.name} was not uploaded.`);
        problem.append(el("p", problemText(error)));
      } finally {
        file.disabled = false;
        file.value = "";
      }
    });
    section.append(list, field("Attach a file", file), slot, problem);
    return section;
  }
}
