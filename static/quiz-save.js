// The quiz page's autosave (used by quiz.js): each change of an answer is PUT with a
// per-question ``seq`` that only grows. The counters are kept in localStorage per attempt, and
// on load each starts from max(local, server), so a reload never reuses a number the server has
// seen; the server ignores a save older than the one it keeps. Typing is debounced (600 ms); a
// save that cannot reach the server is retried with backoff, and at once on ``online``.

import { API, ApiError, api } from "./api.js";
import { problemText } from "./ui.js";

const DEBOUNCE_MS = 600;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export const attemptKey = (lessonId) => `seminar.quiz.attempt.${lessonId}`;
export const seqKey = (attemptId) => `seminar.quiz.seq.${attemptId}`;

export function store(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or full: the server still keeps the answers; only the counters are lost.
  }
}

export function recall(key) {
  try {
    return JSON.parse(window.localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

/** The autosaver of one attempt: per-question seq, status, debounce and retries. */
export class Saver {
  constructor(attempt, onStatus, onClosed) {
    this.attemptId = attempt.id;
    this.onStatus = onStatus; // (questionId or null for overall, state, text)
    this.onClosed = onClosed;
    this.seqs = recall(seqKey(attempt.id)) || {};
    for (const saved of attempt.answers) {
      this.seqs[saved.question_id] = Math.max(this.seqs[saved.question_id] || 0, saved.seq);
    }
    store(seqKey(attempt.id), this.seqs);
    this.pending = new Map(); // question id -> { answer, seq|null }
    this.timers = new Map();
    this.inflight = new Set();
    this.states = new Map();
    this.retryDelay = RETRY_MIN_MS;
    this.retryTimer = null;
    this.closed = false;
    this.waiters = [];
    this.onOnline = () => this.retryAll();
    this.onHide = () => this.sendOnExit();
    // Answers that cannot be saved (offline) would be lost with the page: ask before leaving.
    this.onLeave = (event) => {
      if (this.offline && this.pending.size) event.preventDefault();
    };
    window.addEventListener("online", this.onOnline);
    window.addEventListener("pagehide", this.onHide);
    window.addEventListener("beforeunload", this.onLeave);
  }

  change(questionId, answer, typing) {
    if (this.closed) return;
    this.pending.set(questionId, { answer, seq: null });
    this.set(questionId, "pending", "Saving…");
    window.clearTimeout(this.timers.get(questionId));
    if (typing) {
      this.timers.set(questionId, window.setTimeout(() => this.send(questionId), DEBOUNCE_MS));
    } else {
      this.send(questionId);
    }
  }

  set(questionId, state, text) {
    this.states.set(questionId, state);
    this.onStatus(questionId, state, text);
    const states = [...this.states.values()];
    const busy = states.some((s) => s === "saving" || s === "pending");
    let overall = ["saved", "All answers saved"];
    if (states.includes("offline")) overall = ["offline", "Offline — will retry"];
    else if (busy) overall = ["saving", "Saving…"];
    else if (states.includes("error")) overall = ["error", "Some answers were not saved"];
    this.onStatus(null, ...overall);
    if (!busy || overall[0] === "offline") {
      for (const resolve of this.waiters.splice(0)) resolve();
    }
  }

  async send(questionId) {
    this.timers.delete(questionId);
    if (this.closed || this.inflight.has(questionId)) return; // sent again when that one ends
    const entry = this.pending.get(questionId);
    if (!entry) return;
    // A new answer gets a new number; a retry of the same answer keeps its own.
    if (entry.seq === null) entry.seq = this.nextSeq(questionId);
    this.inflight.add(questionId);
    this.set(questionId, "saving", "Saving…");
    try {
      const saved = await api(
        "PUT",
        `/quiz-attempts/${this.attemptId}/answers/${questionId}`,
        { answer: entry.answer, seq: entry.seq },
      );
      if (saved.seq > entry.seq && this.pending.get(questionId) === entry) {
        // Another page saved a newer answer: this one, on screen, goes above it.
        this.seqs[questionId] = saved.seq;
        entry.seq = null;
      } else if (this.pending.get(questionId) === entry) {
        this.pending.delete(questionId);
      }
      this.retryDelay = RETRY_MIN_MS;
      if (!this.pending.has(questionId)) this.set(questionId, "saved", "Saved");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 0) {
        this.set(questionId, "offline", "Offline — will retry");
        this.scheduleRetry();
      } else if (error.code === "attempt_closed") {
        this.close();
        this.onClosed();
      } else {
        this.pending.delete(questionId);
        this.set(questionId, "error", `Not saved: ${problemText(error)}`);
      }
    } finally {
      this.inflight.delete(questionId);
    }
    // Changed while that save was on its way: send the newer answer now.
    const next = this.pending.get(questionId);
    if (!this.closed && next && next.seq === null && !this.timers.has(questionId)) {
      this.send(questionId);
    }
  }

  /** The page goes away with typing not yet sent (the debounce): a keepalive request
   * outlives the page. Its seq is taken like any other's, so a later save still goes above. */
  sendOnExit() {
    for (const [questionId, timer] of this.timers) {
      window.clearTimeout(timer);
      this.timers.delete(questionId);
      const entry = this.pending.get(questionId);
      if (!entry || this.inflight.has(questionId) || this.closed) continue;
      entry.seq ??= this.nextSeq(questionId);
      fetch(`${API}/quiz-attempts/${this.attemptId}/answers/${questionId}`, {
        method: "PUT",
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ answer: entry.answer, seq: entry.seq }),
      }).catch(() => {});
    }
  }

  nextSeq(questionId) {
    const seq = (this.seqs[questionId] || 0) + 1;
    this.seqs[questionId] = seq;
    store(seqKey(this.attemptId), this.seqs);
    return seq;
  }

  scheduleRetry() {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      this.retryAll();
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  retryAll() {
    window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const questionId of this.pending.keys()) {
      if (!this.timers.has(questionId)) this.send(questionId);
    }
  }

  /** Sends what is waiting now; resolves when everything is saved, or a save failed or could
   * not reach the server (``offline`` then says so). */
  flush() {
    for (const [questionId, timer] of this.timers) {
      window.clearTimeout(timer);
      this.timers.delete(questionId);
    }
    if (this.pending.size === 0 && this.inflight.size === 0) return Promise.resolve();
    const done = new Promise((resolve) => this.waiters.push(resolve));
    this.retryAll();
    return done;
  }

  get offline() {
    return [...this.states.values()].includes("offline");
  }

  close() {
    this.closed = true;
    for (const timer of this.timers.values()) window.clearTimeout(timer);
    window.clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("pagehide", this.onHide);
    window.removeEventListener("beforeunload", this.onLeave);
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
