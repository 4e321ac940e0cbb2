// The lesson player's video and file parts (used by courses.js on /learn/{lesson id}).
//
// Video: GET /lessons/{id}/video gives a signed HLS master playlist (same-origin path; segment
// URIs are relative, so they carry the token) and a poster. hls.js (vendored, loaded on demand
// with a <script> element) plays it through Media Source Extensions wherever MSE can take
// H.264/AAC; elsewhere (iOS Safari) the browser's own HLS plays it. The page's CSP allows
// media-src blob: for MSE; hls.js runs without its blob: worker.
// Resume: playback starts at the position the server kept (GET /courses/{id}/progress), and the
// position is reported with PUT /lessons/{id}/progress every 10 s while playing, on pause, after
// a seek, at the end and when the page is hidden or left (fetch keepalive). The server marks a
// video complete at 90 % watched; the page then refreshes the course progress.

import { API, ApiError, api } from "./api.js";
import { formatBytes, problemText } from "./ui.js";
// The quiz lessons' part of the page: it mounts itself when the lesson is a quiz.
import "./quiz.js";
// The assignment lessons' part (brief, hand-in, receipt, grade): mounts itself likewise.
import "./assignment.js";

const HLS_SCRIPT = "/static/vendor/hls.js/hls.min.js";
const MSE_TYPE = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"';
const REPORT_EVERY_MS = 10_000;
const PREPARE_POLL_MS = 3000;

let hlsLoading = null;

/** Loads the vendored hls.js once; resolves with its Hls class. */
function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  hlsLoading ||= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = HLS_SCRIPT;
    script.addEventListener("load", () => resolve(window.Hls));
    script.addEventListener("error", () => reject(new Error("hls.js could not be loaded")));
    document.head.append(script);
  });
  return hlsLoading;
}

function mseCanPlay() {
  const MS = window.ManagedMediaSource || window.MediaSource;
  return Boolean(MS && typeof MS.isTypeSupported === "function" && MS.isTypeSupported(MSE_TYPE));
}

/** "hls.js", "native" or null: how this browser can play HLS. */
export function hlsEngine(video) {
  if (mseCanPlay()) return "hls.js";
  if (video.canPlayType("application/vnd.apple.mpegurl")) return "native";
  return null;
}

async function resumePosition(lesson) {
  try {
    const progress = await api("GET", `/courses/${lesson.course_id}/progress`);
    const mine = progress.lessons.find((p) => p.lesson_id === lesson.id);
    return mine ? mine.position_seconds : 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return 0; // a visitor on a preview lesson keeps no position
  }
}

/**
 * Plays a video lesson in ``video``; says what happens in ``state``. ``onCompleted`` is called
 * when a position report comes back with the lesson completed (90 % watched).
 */
export async function playVideo(lesson, video, state, onCompleted) {
  let info;
  try {
    info = await api("GET", `/lessons/${lesson.id}/video`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    state.textContent =
      error.status === 404 ? "This lesson's video has not been uploaded yet." : problemText(error);
    return;
  }
  while (!info.playback_url) {
    if (info.status === "failed") {
      state.textContent = `The video could not be prepared: ${info.error || "unknown error"}.`;
      return;
    }
    state.textContent = `The video is being prepared (${info.progress_percent} %)…`;
    await new Promise((resolve) => window.setTimeout(resolve, PREPARE_POLL_MS));
    info = await api("GET", `/lessons/${lesson.id}/video`);
  }
  if (info.poster_url) video.poster = info.poster_url;
  const engine = hlsEngine(video);
  video.dataset.engine = engine || "none";
  if (!engine) {
    state.textContent = "This browser cannot play streamed video (HLS).";
    return;
  }
  let start = await resumePosition(lesson);
  // Stopped at the very end last time: start again from the beginning.
  if (info.duration_seconds && start >= info.duration_seconds - 0.5) start = 0;
  video.dataset.resumeFrom = String(start);
  state.textContent = start > 0 ? `Resuming at ${formatTime(start)}.` : "";

  if (engine === "hls.js") {
    let Hls;
    try {
      Hls = await loadHls();
    } catch (error) {
      state.textContent = `The video player could not be loaded: ${error.message}.`;
      return;
    }
    attachHls(Hls, lesson, info, video, state, start);
  } else {
    video.src = info.playback_url;
    video.addEventListener(
      "loadedmetadata",
      () => {
        if (start > 0) video.currentTime = start;
      },
      { once: true },
    );
    video.addEventListener("error", () => {
      const code = video.error ? video.error.code : "?";
      state.textContent = `The video cannot be played (media error ${code}).`;
    });
  }
  reportPositions(lesson, video, onCompleted);
}

function attachHls(Hls, lesson, info, video, state, start) {
  const hls = new Hls({ enableWorker: false, startPosition: start > 0 ? start : -1 });
  video.hls = hls; // for the browser tests and for debugging in the console
  let recovered = false;
  let refreshed = false;
  hls.on(Hls.Events.ERROR, async (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
      recovered = true;
      hls.recoverMediaError();
      return;
    }
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !refreshed) {
      // The signed links may have expired: ask for fresh ones once and carry on from here.
      refreshed = true;
      try {
        const fresh = await api("GET", `/lessons/${lesson.id}/video`);
        if (fresh.playback_url) {
          hls.loadSource(fresh.playback_url);
          hls.startLoad(video.currentTime);
          return;
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
      }
    }
    state.textContent = `The video cannot be played: ${data.details}.`;
    state.dataset.error = data.details;
  });
  hls.loadSource(info.playback_url);
  hls.attachMedia(video);
}

function formatTime(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function reportPositions(lesson, video, onCompleted) {
  const url = `${API}/lessons/${lesson.id}/progress`;
  let timer = null;
  let stopped = false; // the server refuses this caller's reports (not enrolled)
  let completed = false;
  let lastSent = -1;

  function body() {
    const report = { position_seconds: Math.max(0, video.currentTime || 0) };
    if (Number.isFinite(video.duration) && video.duration > 0) {
      report.duration_seconds = video.duration;
    }
    return report;
  }

  async function send() {
    if (stopped || video.readyState === 0) return;
    const report = body();
    if (report.position_seconds === lastSent) return;
    lastSent = report.position_seconds;
    try {
      const saved = await api("PUT", `/lessons/${lesson.id}/progress`, report);
      video.dataset.reported = String(saved.position_seconds);
      if (saved.completed_at && !completed) {
        completed = true;
        onCompleted();
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401 || error.status === 403) stopped = true;
    }
  }

  /** The last word as the page goes away: a keepalive request outlives the page. */
  function sendOnExit() {
    if (stopped || video.readyState === 0) return;
    fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body()),
    }).catch(() => {});
  }

  video.addEventListener("playing", () => {
    if (timer === null) timer = window.setInterval(send, REPORT_EVERY_MS);
  });
  const halt = () => {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
    send();
  };
  video.addEventListener("pause", halt);
  video.addEventListener("ended", halt);
  video.addEventListener("seeked", send);
  window.addEventListener("pagehide", sendOnExit);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") sendOnExit();
  });
}

/**
 * A file lesson: the file's name and size (the lesson's ``file``, so nothing is downloaded to
 * learn them, whatever the storage) and a Download link.
 */
export function showFile(lesson, nameNode, downloadLink) {
  downloadLink.href = `${API}/lessons/${lesson.id}/file`;
  const file = lesson.file;
  if (!file) {
    nameNode.textContent = "The file has not been uploaded yet.";
    downloadLink.hidden = true;
    return;
  }
  nameNode.textContent = `${file.filename} (${formatBytes(file.size)})`;
  downloadLink.setAttribute("aria-label", `Download ${file.filename}`);
}
