// The editor's media panel for file and video lessons: upload with a progress bar (raw-body PUT
// through XMLHttpRequest, see ui.uploadRaw), and for videos the transcoding status, polled
// every 2 s while queued or processing, then the poster (ready) or the failure message.
// A file lesson's name and size come with the lesson (its ``file``: filename, size,
// content_type, or null), so nothing is downloaded to show them.

import { ApiError, api } from "./api.js";
import { el, formatBytes, problemText, progressLine, uploadRaw } from "./ui.js";

const POLL_MS = 2000;

/** "Current file: notes.pdf, 2.0 KB" from a lesson's ``file`` (or an upload's answer). */
export function describeFile(file) {
  if (!file) return "No file uploaded yet.";
  const parts = [file.filename || "The file", file.size != null ? formatBytes(file.size) : null];
  return `Current file: ${parts.filter(Boolean).join(", ")}`;
}

function uploadControl(labelText, accept, onFile) {
  const wrap = el("div", null, "field");
  const inputNode = document.createElement("input");
  inputNode.type = "file";
  inputNode.id = `upload-${Math.random().toString(36).slice(2)}`;
  if (accept) inputNode.accept = accept;
  const label = el("label", labelText);
  label.htmlFor = inputNode.id;
  wrap.append(label, inputNode);
  inputNode.addEventListener("change", async () => {
    const file = inputNode.files[0];
    if (!file) return;
    inputNode.disabled = true;
    try {
      await onFile(file);
    } finally {
      inputNode.disabled = false;
      inputNode.value = "";
    }
  });
  return wrap;
}

async function sendWithBar(slot, problem, path, file) {
  problem.replaceChildren();
  const bar = progressLine(`Uploading ${file.name}: 0 %`);
  bar.node.classList.add("upload-bar");
  slot.replaceChildren(bar.node);
  try {
    const answer = await uploadRaw(path, file, (loaded, total) => {
      const percent = total ? Math.round((loaded / total) * 100) : 0;
      bar.set(percent, `Uploading ${file.name}: ${percent} %`);
    });
    bar.set(100, `Uploaded ${file.name}: 100 %`);
    return answer;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    bar.set(0, `${file.name} was not uploaded.`);
    const what =
      error.status === 413 ? "Too large: " : error.status === 415 ? "Not accepted: " : "";
    problem.append(el("p", `${what}${problemText(error)}`));
    return null;
  }
}

function problemRegion() {
  const problem = el("div", null, "messages error");
  problem.setAttribute("role", "alert");
  return problem;
}

function filePanel(lesson) {
  const section = el("section", null, "media-panel file-panel");
  section.setAttribute("aria-label", `File of ${lesson.title}`);
  const current = el("p", describeFile(lesson.file), "file-current");
  const slot = el("div");
  const problem = problemRegion();
  const control = uploadControl("Upload the file", null, async (file) => {
    const saved = await sendWithBar(slot, problem, `/lessons/${lesson.id}/file`, file);
    if (saved) current.textContent = describeFile(saved);
  });
  section.append(el("h4", "File"), current, control, slot, problem);
  return section;
}

const VIDEO_STATUS = {
  queued: "Waiting to be transcoded",
  processing: "Transcoding",
  ready: "Ready",
  failed: "Transcoding failed",
};

function videoPanel(lesson) {
  const section = el("section", null, "media-panel video-panel");
  section.setAttribute("aria-label", `Video of ${lesson.title}`);
  const state = el("p", "Looking for the video…", "video-state");
  state.setAttribute("role", "status");
  const transcode = progressLine("Transcoding: 0 %");
  transcode.node.classList.add("transcode-bar");
  transcode.node.hidden = true;
  const poster = document.createElement("img");
  poster.className = "video-poster";
  poster.alt = `Poster of ${lesson.title}`;
  poster.hidden = true;
  const slot = el("div");
  const problem = problemRegion();
  let timer = null;
  let polling = false;

  function show(video) {
    section.dataset.status = video ? video.status : "none";
    if (!video) {
      state.textContent = "No video uploaded yet.";
      transcode.node.hidden = true;
      poster.hidden = true;
      return;
    }
    const name = video.filename ? `${video.filename}: ` : "";
    if (video.status === "queued" || video.status === "processing") {
      transcode.node.hidden = false;
      transcode.set(
        video.progress_percent,
        `${VIDEO_STATUS[video.status]}: ${video.progress_percent} %`,
      );
      state.textContent = `${name}${VIDEO_STATUS[video.status]}…`;
      poster.hidden = true;
    } else if (video.status === "ready") {
      transcode.node.hidden = true;
      const facts = [];
      if (video.duration_seconds) facts.push(`${Math.round(video.duration_seconds)} s`);
      if (video.width && video.height) facts.push(`${video.width}×${video.height}`);
      state.textContent = `${name}ready${facts.length ? ` (${facts.join(", ")})` : ""}.`;
      if (video.poster_url) {
        poster.src = video.poster_url;
        poster.hidden = false;
      }
    } else {
      transcode.node.hidden = true;
      poster.hidden = true;
      state.textContent = `${name}transcoding failed: ${video.error || "no reason given"}.`;
    }
  }

  async function check() {
    timer = null;
    if (!section.isConnected && polling) {
      polling = false; // the panel was closed or replaced; reopening resumes
      return;
    }
    let video = null;
    try {
      video = await api("GET", `/lessons/${lesson.id}/video`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status !== 404) {
        state.textContent = `The video's state is unknown: ${problemText(error)}`;
        return;
      }
    }
    show(video);
    polling = Boolean(video && (video.status === "queued" || video.status === "processing"));
    if (polling) timer = window.setTimeout(check, POLL_MS);
  }

  const control = uploadControl("Upload a video", "video/*", async (file) => {
    if (timer) window.clearTimeout(timer);
    const video = await sendWithBar(slot, problem, `/lessons/${lesson.id}/video`, file);
    if (video) {
      show(video);
      check();
    }
  });
  section.append(el("h4", "Video"), state, transcode.node, poster, control, slot, problem);
  section.resume = () => {
    if (!timer && !polling) check();
  };
  check();
  return section;
}

/** The media part of a lesson's edit panel (file and video lessons). */
export function lessonMediaPanel(lesson) {
  return lesson.kind === "video" ? videoPanel(lesson) : filePanel(lesson);
}
