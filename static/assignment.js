// The assignment part of the lesson page (/learn/{lesson id}): loaded by player.js, it shows
// itself only when the lesson is of kind "assignment".
//
// - The brief (GET /lessons/{id}/assignment: brief_html, sanitised by the server) with its
//   attachments, the due date, the late policy and what may be handed in.
// - A student hands in text and/or files (POST /lessons/{id}/submissions, multipart: ``text``
//   and ``files``), with an upload progress bar (XMLHttpRequest upload.onprogress) and an
//   Idempotency-Key, kept for retries of the same hand-in, so a retry never makes two versions.
//   The files are checked here first as the server checks them (type by name or declared
//   type against allowed_types, size, count); the server checks the bytes again.
// - The receipt (id, time, checksums) after submitting; every version so far
//   (GET /lessons/{id}/submissions/mine); resubmission while the server allows it.
// - Once released, the grade and feedback (GET /lessons/{id}/my-grade; 404 until then).

import { API, ApiError, api } from "./api.js";
import { el, formatBytes, pathTail, problemText, progressLine } from "./ui.js";
import { sanitisedFragment, showMyGrade } from "./assignment-grade.js";

// lms_core/storage/sniff.py EXTENSIONS (programs left out: they are always refused).
const EXTENSIONS = {
  pdf: "application/pdf",
  zip: "application/zip",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  odt: "application/vnd.oasis.opendocument.text",
  ods: "application/vnd.oasis.opendocument.spreadsheet",
  odp: "application/vnd.oasis.opendocument.presentation",
  epub: "application/epub+zip",
  doc: "application/msword",
  xls: "application/vnd.ms-excel",
  ppt: "application/vnd.ms-powerpoint",
  rtf: "application/rtf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  heic: "image/heic",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  svg: "image/svg+xml",
  html: "text/html",
  htm: "text/html",
  mp4: "video/mp4",
  m4v: "video/x-m4v",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  ogg: "audio/ogg",
  oga: "audio/ogg",
  wav: "audio/x-wav",
  flac: "audio/x-flac",
  txt: "text/plain",
  csv: "text/csv",
  md: "text/markdown",
  vtt: "text/vtt",
};
const PROGRAMS = new Set(["exe", "dll", "msi"]);
const ALIASES = {
  "application/x-pdf": "application/pdf",
  "application/x-zip-compressed": "application/zip",
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "audio/mp3": "audio/mpeg",
  "audio/wav": "audio/x-wav",
  "audio/wave": "audio/x-wav",
};
const FORMATS = {
  text: "Text only",
  files: "Files only",
  both: "Text, files, or both",
};

const when = (iso) => new Date(iso).toLocaleString();

/** The file's type as the server would claim it: by extension, else by the declared type. */
export function claimedType(file) {
  const dot = file.name.lastIndexOf(".");
  const ext = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : "";
  if (PROGRAMS.has(ext)) return "program";
  if (EXTENSIONS[ext]) return EXTENSIONS[ext];
  const declared = (file.type || "").split(";")[0].trim().toLowerCase();
  return ALIASES[declared] || declared || null;
}

/** What is wrong with ``file`` for ``assignment`` (null: nothing the browser can tell). */
export function fileProblem(file, assignment) {
  const type = claimedType(file);
  if (type === "program") return `${file.name}: programs cannot be uploaded.`;
  if (type && !assignment.allowed_types.includes(type)) {
    return `${file.name}: files of type ${type} are not accepted here.`;
  }
  if (file.size > assignment.max_file_bytes) {
    return `${file.name} is too large (${formatBytes(file.size)}; at most ${formatBytes(assignment.max_file_bytes)}).`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

function acceptList(types) {
  const out = new Set(types);
  for (const [ext, type] of Object.entries(EXTENSIONS)) if (types.includes(type)) out.add(`.${ext}`);
  return [...out].join(",");
}

function problemFromXhr(xhr) {
  let problem = {};
  try {
    problem = JSON.parse(xhr.responseText || "{}") || {};
  } catch {
    problem = {};
  }
  if (!problem.detail && xhr.status === 413) problem.detail = "The upload is too large.";
  return new ApiError(xhr.status, problem);
}

/** POSTs ``form`` (multipart) with an Idempotency-Key; ``onProgress(loaded, total)``. */
function postForm(path, form, key, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}${path}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Idempotency-Key", key);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, { detail: "The server's answer could not be read." }));
        }
      } else {
        reject(problemFromXhr(xhr));
      }
    };
    xhr.onerror = () =>
      reject(new ApiError(0, { detail: "The upload was cut off. Try again: it is safe to." }));
    xhr.send(form);
  });
}

function newKey() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function latePolicy(a) {
  if (!a.due_at) return "No due date: hand in any time.";
  if (a.late_policy === "cutoff") return "No late work: hand-ins are refused after the due date.";
  return (
    `Late work is accepted with ${a.penalty_percent_per_day} % off for each started day ` +
    `late (at most ${a.max_penalty_percent} %).`
  );
}

function lateLine(s) {
  if (!s.is_late) return "On time";
  const days = `${s.days_late} ${s.days_late === 1 ? "day" : "days"} late`;
  return s.penalty_percent ? `${days} (−${s.penalty_percent} %)` : days;
}

class AssignmentPage {
  constructor(lesson, root) {
    this.lesson = lesson;
    this.root = root;
    this.key = null; // the Idempotency-Key of the hand-in being sent (kept for its retries)
  }

  say(text, kind = "info") {
    this.message.replaceChildren();
    this.message.className = `messages ${kind}`;
    if (text) this.message.append(el("p", text));
  }

  async load() {
    this.root.replaceChildren(el("h2", "Assignment", "assignment-heading"));
    this.message = el("div", null, "messages");
    this.message.id = "assignment-message";
    this.message.setAttribute("role", "status");
    this.message.setAttribute("aria-live", "polite");
    let assignment;
    try {
      assignment = await api("GET", `/lessons/${this.lesson.id}/assignment`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.root.append(this.message);
      this.say(
        error.code === "assignment_not_found"
          ? "This assignment has not been set up yet."
          : problemText(error),
        "error",
      );
      return;
    }
    this.assignment = assignment;
    this.root.append(this.brief(assignment), this.facts(assignment), this.message);
    let role = "student";
    try {
      role = (await api("GET", `/courses/${assignment.course_id}`)).your_role;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    if (role !== "student") {
      this.say("You are staff of this course: students hand in their work here.");
      const p = el("p");
      const a = el("a", "Open the grading queue", "button secondary");
      a.href = `/teach/lessons/${this.lesson.id}/grading`;
      p.append(a);
      this.root.append(p);
      return;
    }
    this.gradeBox = el("section", null, "assignment-grade");
    this.gradeBox.id = "assignment-grade";
    this.gradeBox.hidden = true;
    this.receiptBox = el("section", null, "assignment-receipt");
    this.receiptBox.id = "assignment-receipt";
    this.receiptBox.hidden = true;
    this.formBox = el("div", null, "assignment-form-box");
    this.versionsBox = el("section", null, "assignment-versions");
    this.versionsBox.id = "assignment-versions";
    // The upload's progress stays below the form when the form is drawn again after a hand-in.
    this.progress = progressLine("Upload: 0 %");
    this.progress.node.id = "assignment-progress";
    this.progress.node.hidden = true;
    this.root.append(this.gradeBox, this.receiptBox, this.formBox, this.progress.node, this.versionsBox);
    await this.refresh();
    showMyGrade(this.lesson.id, this.gradeBox);
  }

  brief(a) {
    const box = el("div", null, "assignment-brief");
    box.id = "assignment-brief";
    box.append(sanitisedFragment(a.brief_html, "prose"));
    if (a.attachments.length) {
      box.append(el("h3", "Attachments"));
      const list = el("ul", null, "assignment-attachments");
      for (const file of a.attachments) {
        const item = el("li");
        const link = el("a", file.filename);
        link.href = `${API}/lessons/${a.lesson_id}/assignment/attachments/${file.id}`;
        link.setAttribute("download", file.filename);
        item.append(link, el("span", ` (${formatBytes(file.size)})`, "muted"));
        list.append(item);
      }
      box.append(list);
    }
    return box;
  }

  facts(a) {
    const list = el("dl", null, "quiz-settings assignment-facts");
    list.id = "assignment-facts";
    const row = (term, value) => list.append(el("dt", term), el("dd", value));
    row("Due", a.due_at ? when(a.due_at) : "No due date");
    row("Late work", latePolicy(a));
    row("Hand in", FORMATS[a.submission_format] || a.submission_format);
    if (a.submission_format !== "text") {
      row("Files", `Up to ${a.max_files}, each at most ${formatBytes(a.max_file_bytes)}`);
    }
    row("Resubmission", a.allow_resubmission ? "Allowed until the due date" : "Not allowed");
    return list;
  }

  /** Asks for the versions so far and shows them, and the form if one may still hand in. */
  async refresh() {
    let versions = [];
    try {
      versions = (await api("GET", `/lessons/${this.lesson.id}/submissions/mine`)).items;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.say(problemText(error), "error");
    }
    this.versions = versions;
    this.showVersions(versions);
    if (versions.length && this.receiptBox.hidden) this.showReceipt(versions[0], false);
    this.showForm();
  }

  closedReason() {
    const a = this.assignment;
    const pastDue = a.due_at !== null && Date.now() > Date.parse(a.due_at);
    const handedIn = this.versions.length > 0;
    if (pastDue && a.late_policy === "cutoff") return "The due date has passed: no more hand-ins.";
    if (handedIn && !a.allow_resubmission) return "You have handed in: resubmission is not allowed.";
    if (handedIn && pastDue) return "The due date has passed: your last version counts.";
    return null;
  }

  showForm() {
    const closed = this.closedReason();
    if (closed) {
      this.formBox.replaceChildren(el("p", closed, "muted assignment-closed"));
      return;
    }
    const a = this.assignment;
    const form = el("form", null, "assignment-form");
    form.id = "assignment-form";
    form.noValidate = true;
    const again = this.versions.length > 0;
    const heading = el("h3", again ? "Hand in a new version" : "Hand in your work");
    heading.id = "assignment-form-title";
    form.setAttribute("aria-labelledby", heading.id);
    form.append(heading);
    if (again) form.append(el("p", "A new version replaces the last one: the latest counts.", "hint"));
    let text = null;
    let files = null;
    if (a.submission_format !== "files") {
      text = document.createElement("textarea");
      text.id = "assignment-text";
      text.name = "text";
      text.rows = 8;
      const label = el("label", "Your answer");
      label.htmlFor = text.id;
      const wrap = el("div", null, "field");
      wrap.append(label, text);
      form.append(wrap);
    }
    const chosen = el("ul", null, "assignment-chosen");
    const fileProblems = el("div", null, "messages error");
    fileProblems.setAttribute("role", "alert");
    if (a.submission_format !== "text") {
      files = document.createElement("input");
      files.type = "file";
      files.id = "assignment-files";
      files.name = "files";
      files.multiple = a.max_files > 1;
      files.accept = acceptList(a.allowed_types);
      const label = el("label", a.max_files > 1 ? "Files" : "File");
      label.htmlFor = files.id;
      const hint = el("p", `Up to ${a.max_files}, each at most ${formatBytes(a.max_file_bytes)}.`, "hint");
      hint.id = "assignment-files-hint";
      files.setAttribute("aria-describedby", hint.id);
      const wrap = el("div", null, "field");
      wrap.append(label, files, hint);
      form.append(wrap, chosen, fileProblems);
      files.addEventListener("change", () => {
        this.key = null; // other files: another hand-in
        this.checkFiles(files, chosen, fileProblems);
      });
    }
    text?.addEventListener("input", () => {
      this.key = null;
    });
    const submit = el("button", again ? "Hand in the new version" : "Hand in", "button");
    submit.type = "submit";
    submit.id = "assignment-submit";
    form.append(submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(form, text, files, chosen, fileProblems, submit);
    });
    this.formBox.replaceChildren(form);
  }

  /** Lists the chosen files with their sizes; returns the problems found (shown too). */
  checkFiles(input, chosen, region) {
    const a = this.assignment;
    const picked = input ? [...input.files] : [];
    const problems = [];
    chosen.replaceChildren();
    for (const file of picked) {
      const issue = fileProblem(file, a);
      const item = el("li", `${file.name} (${formatBytes(file.size)})`);
      if (issue) {
        item.className = "assignment-file-bad";
        problems.push(issue);
      }
      chosen.append(item);
    }
    if (picked.length > a.max_files) problems.push(`At most ${a.max_files} files may be handed in.`);
    region.replaceChildren(...problems.map((p) => el("p", p)));
    input?.setAttribute("aria-invalid", problems.length ? "true" : "false");
    return problems;
  }

  async submit(form, text, files, chosen, region, submit) {
    const problems = this.checkFiles(files, chosen, region);
    if (problems.length) {
      files.focus();
      return;
    }
    const body = new FormData();
    const written = text ? text.value : "";
    if (written.trim()) body.append("text", written);
    for (const file of files ? files.files : []) body.append("files", file);
    if (!written.trim() && !(files && files.files.length)) {
      this.say("Write your answer or choose a file first.", "error");
      (text || files).focus();
      return;
    }
    this.key ||= newKey();
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    this.progress.node.hidden = false;
    this.progress.set(0, "Upload: 0 %");
    this.say("Sending your work…");
    try {
      const submission = await postForm(
        `/lessons/${this.lesson.id}/submissions`,
        body,
        this.key,
        (loaded, total) => {
          const percent = total ? Math.round((loaded / total) * 100) : 0;
          this.progress.node.dataset.loaded = String(loaded);
          this.progress.set(percent, `Upload: ${percent} %`);
        },
      );
      this.progress.set(100, "Upload: 100 %");
      this.key = null;
      this.say(`Handed in: version ${submission.version}. Keep your receipt.`, "success");
      this.showReceipt(submission, true);
      await this.refresh();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      submit.disabled = false;
      form.removeAttribute("aria-busy");
      this.progress.set(0, "Not handed in.");
      // A refusal by the server ends this hand-in; a cut connection keeps the key for a retry.
      if (error.status !== 0) this.key = null;
      this.say(problemText(error), "error");
      if (error.code === "assignment_closed" || error.code === "resubmission_closed") {
        await this.refresh();
      }
    }
  }

  showReceipt(submission, fresh) {
    const r = submission.receipt;
    const box = this.receiptBox;
    const title = el("h3", fresh ? "Your receipt" : "Receipt of your latest version");
    title.id = "assignment-receipt-title";
    title.tabIndex = -1;
    box.setAttribute("aria-labelledby", title.id);
    const list = el("dl", null, "receipt");
    const row = (term, value, cls) => {
      const dd = el("dd", value, cls);
      list.append(el("dt", term), dd);
    };
    row("Receipt id", r.submission_id, "receipt-id mono");
    row("Version", String(r.version));
    row("Handed in", when(r.submitted_at), "receipt-time");
    row("Lateness", lateLine(submission));
    if (r.text_sha256) row("Text SHA-256", r.text_sha256, "mono receipt-sum");
    box.replaceChildren(title, list);
    if (r.files.length) {
      const files = el("ul", null, "receipt-files");
      for (const f of r.files) {
        const item = el("li");
        item.append(
          el("span", `${f.filename} (${formatBytes(f.size)})`, "receipt-file"),
          el("br"),
          el("span", `SHA-256 ${f.sha256}`, "mono receipt-sum"),
        );
        files.append(item);
      }
      box.append(el("p", "Files:"), files);
    }
    box.append(el("p", "A copy of this receipt was sent to you by email.", "hint"));
    box.hidden = false;
    if (fresh) title.focus();
  }

  showVersions(versions) {
    const box = this.versionsBox;
    box.replaceChildren();
    if (!versions.length) {
      box.append(el("p", "You have not handed in anything yet.", "muted"));
      return;
    }
    const title = el("h3", "Your versions");
    title.id = "assignment-versions-title";
    box.setAttribute("aria-labelledby", title.id);
    const list = el("ol", null, "assignment-version-list");
    list.reversed = true;
    for (const s of versions) {
      const item = el("li", null, "assignment-version");
      item.dataset.submissionId = s.id;
      const head = `Version ${s.version} · ${when(s.submitted_at)} · ${lateLine(s)}`;
      item.append(el("p", s.is_latest ? `${head} · counts` : head, "assignment-version-head"));
      if (s.text !== null) {
        const details = el("details");
        details.append(el("summary", "Text"), el("pre", s.text, "assignment-text"));
        item.append(details);
      }
      if (s.files.length) {
        const files = el("ul");
        for (const f of s.files) {
          const li = el("li");
          const link = el("a", f.filename);
          link.href = `${API}/submissions/${s.id}/files/${f.id}`;
          link.setAttribute("download", f.filename);
          li.append(link, el("span", ` (${formatBytes(f.size)})`, "muted"));
          files.append(li);
        }
        item.append(files);
      }
      list.append(item);
    }
    box.append(title, list);
  }
}

async function mount() {
  const root = document.getElementById("assignment");
  if (!root || document.body.dataset.page !== "learn") return;
  let lesson;
  try {
    lesson = await api("GET", `/lessons/${encodeURIComponent(pathTail())}`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return; // the page's own script says why the lesson cannot be shown
  }
  if (lesson.kind !== "assignment") return;
  document.getElementById("lesson")?.classList.add("has-assignment");
  root.hidden = false;
  await new AssignmentPage(lesson, root).load();
}

mount();
