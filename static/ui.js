// Small helpers shared by the instructor pages (teach.js, editor.js) and the lesson player
// (player.js): building DOM from text, the page's message region, and raw-body uploads with
// progress. Text from the server always goes in with textContent, never as HTML.

import { API, ApiError } from "./api.js";

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function link(href, text, className) {
  const a = el("a", text, className);
  a.href = href;
  return a;
}

export function button(text, className = "button secondary", label = null) {
  const b = el("button", text, className);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  return b;
}

/** The last segment of the address: a course id or a lesson id. */
export function pathTail() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || "");
}

/** Writes one message into a live region (``kind``: info, success or error). */
export function say(region, text, kind = "info") {
  region.replaceChildren();
  region.className = `messages ${kind}`;
  if (!text) return;
  region.append(el("p", text));
}

/** An ApiError as text: the server's detail, its field errors, a reference for 5xx. */
export function problemText(error) {
  if (!(error instanceof ApiError)) throw error;
  const reference = error.status >= 500 && error.requestId ? ` (reference ${error.requestId})` : "";
  const fields = error.fieldErrors
    .map((e) => {
      const where = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : "";
      const text = e.message || e.msg || e.type || ""; // problem+json field errors carry "message"
      return where ? `${where}: ${text}` : text;
    })
    .filter(Boolean);
  return `${error.message}${fields.length ? ` ${fields.join("; ")}.` : ""}${reference}`;
}

/** Says what went wrong in ``region``; a 401 also links to the sign-in page. */
export function sayProblem(region, error, prefix = "") {
  say(region, `${prefix}${problemText(error)}`, "error");
  if (error.status === 401) {
    const p = el("p");
    p.append(link("/", "Sign in or create an account"));
    region.append(p);
  }
}

export const LEVELS = {
  beginner: "Beginner",
  intermediate: "Intermediate",
  advanced: "Advanced",
  all: "All levels",
};

/** "2025-03-01T09:30:00Z" -> "2025-03-01T09:30" in local time, for datetime-local inputs. */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

/** A datetime-local value (local time) -> an ISO instant with its offset, or null if empty. */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}

export function formatBytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function problemFromXhr(xhr) {
  let problem = {};
  try {
    problem = JSON.parse(xhr.responseText || "{}") || {};
  } catch {
    problem = {};
  }
  if (!problem.detail) {
    if (xhr.status === 413) problem.detail = "The file is too large.";
    else if (xhr.status === 415) problem.detail = "This type of file is not accepted.";
  }
  return new ApiError(xhr.status, problem);
}

/**
 * PUTs ``file`` as the raw request body to ``path`` (under /api/v1) with ``?filename=``,
 * calling ``onProgress(loaded, total)`` as the bytes go out. Resolves with the JSON answer;
 * rejects with an ApiError (413 too large and 415 wrong type carry the server's problem).
 * XMLHttpRequest rather than fetch: only it reports upload progress.
 */
export function uploadRaw(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const sep = path.includes("?") ? "&" : "?";
    xhr.open("PUT", `${API}${path}${sep}filename=${encodeURIComponent(file.name)}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        try {
          resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
        } catch {
          resolve(null);
        }
      } else {
        reject(problemFromXhr(xhr));
      }
    };
    xhr.onerror = () => {
      // A 413 answered before the body was read often ends as a network error in browsers.
      reject(new ApiError(0, { detail: "The upload was cut off (is the file too large?)." }));
    };
    xhr.send(file);
  });
}

/** A labelled <progress> with a text line, for uploads and transcoding. */
export function progressLine(labelText) {
  const wrap = el("div", null, "progress-block upload-progress");
  const id = `progress-${Math.random().toString(36).slice(2)}`;
  const text = el("p", labelText, "progress-label");
  text.id = id;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-labelledby", id);
  wrap.append(text, bar);
  return {
    node: wrap,
    set(percent, line) {
      bar.value = percent;
      if (line !== undefined) text.textContent = line;
    },
  };
}
