// The quiz part of the lesson page (/learn/{lesson id}): loaded by player.js, it shows itself
// only when the lesson is of kind "quiz".
//
// - Settings (GET /lessons/{id}/quiz): time limit, window, attempts used/allowed; Start (POST
//   /lessons/{id}/quiz/attempts, idempotent: it also resumes the attempt in progress).
// - The attempt in progress is remembered in localStorage, so a reload resumes it with the
//   answers the server kept (GET /quiz-attempts/{id}).
// - Autosave: every change PUTs that question's answer with a per-question ``seq`` that only
//   grows. The counters are kept in localStorage per attempt, and on load each starts from
//   max(local, server), so a reload never sends a number the server has already seen; the
//   server ignores a save older than the one it keeps. Typing is debounced (600 ms). A save
//   that cannot reach the server is retried with backoff and at once on ``online``.
// - The clock is the server's: ``seconds_left`` of each answer about the attempt resets the
//   countdown. At 0 the page asks for the attempt until the server has submitted it.
// - Submit (with a confirm) sends the unsaved answers first; the result shows the score, the
//   points per question and, only when the server sends it, the key and feedback.

import { ApiError, api } from "./api.js";
import { el, pathTail, problemText } from "./ui.js";
import { TYPE_NAMES, answerWidget, keyLines } from "./quiz-questions.js";
import { Saver, attemptKey, recall, seqKey, store } from "./quiz-save.js";
import { attemptHistory } from "./quiz-history.js";

const WARN_AT_SECONDS = 60;
const CLOSE_POLL_MS = 1000;

/**
 * Puts the server-sanitised ``prompt_html`` of a question into a fragment. The server renders
 * prompts from the author's Markdown/HTML and sanitises them with an allow-list before they
 * reach a student; DOMParser gives an inert document (nothing in it runs) whose nodes are
 * moved over, and the page's CSP (script-src 'self') stands behind it. Only prompt_html here.
 */
function sanitisedPrompt(sanitisedHtml) {
  const parsed = new DOMParser().parseFromString(sanitisedHtml || "", "text/html");
  for (const a of parsed.body.querySelectorAll("a[href]")) {
    a.setAttribute("rel", "noopener noreferrer nofollow");
  }
  const div = el("div", null, "prose quiz-prompt");
  div.append(...parsed.body.childNodes);
  return div;
}

function formatClock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(h ? 2 : 1, "0")}:${String(s % 60).padStart(2, "0")}`;
  return h ? `${h}:${mmss}` : mmss;
}

function formatDuration(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

const when = (iso) => new Date(iso).toLocaleString();
const points = (n) => `${Number(n.toFixed(2))}`;

class QuizPage {
  constructor(lesson, root) {
    this.lesson = lesson;
    this.root = root;
    this.saver = null;
    this.ticker = null;
  }

  say(text, kind = "info") {
    this.message.replaceChildren();
    this.message.className = `messages ${kind}`;
    if (text) this.message.append(el("p", text));
  }

  async load() {
    this.root.replaceChildren();
    this.root.append(el("h2", "Quiz", "quiz-heading"));
    this.message = el("div", null, "messages");
    this.message.setAttribute("role", "status");
    let quiz;
    try {
      quiz = await api("GET", `/lessons/${this.lesson.id}/quiz`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.root.append(this.message);
      this.say(error.code === "quiz_not_found" ? "This quiz has no questions yet." : problemText(error), "error");
      return;
    }
    this.quiz = quiz;
    this.root.append(this.settings(quiz), this.message);
    this.body = el("div", null, "quiz-body");
    this.root.append(this.body);
    if (quiz.items !== null) {
      this.say("You are staff of this course: students take the quiz here.");
      return;
    }
    await this.showHistory();
    const known = recall(attemptKey(this.lesson.id));
    if (known) {
      try {
        const attempt = await api("GET", `/quiz-attempts/${known}`);
        if (attempt.status === "in_progress") return this.take(attempt);
        this.result(attempt);
        return;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status === 0) return this.say(problemText(error), "error");
        store(attemptKey(this.lesson.id), null);
      }
    }
    this.startButton();
  }

  async showHistory() {
    const table = await attemptHistory(this.lesson.id, (id) => this.review(id));
    const shown = document.getElementById("quiz-history");
    if (shown && table) shown.replaceWith(table);
    else if (shown) shown.remove();
    else if (table) this.message.before(table);
  }

  async review(attemptId) {
    try {
      this.result(await api("GET", `/quiz-attempts/${attemptId}`));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.say(problemText(error), "error");
    }
  }

  settings(quiz) {
    const list = el("dl", null, "quiz-settings");
    const row = (term, value) => list.append(el("dt", term), el("dd", value));
    row("Time limit", quiz.time_limit_seconds ? formatDuration(quiz.time_limit_seconds) : "None");
    if (quiz.opens_at) row("Opens", when(quiz.opens_at));
    if (quiz.closes_at) row("Closes", when(quiz.closes_at));
    const allowed = quiz.attempts_allowed === null ? "unlimited" : String(quiz.attempts_allowed);
    if (quiz.attempts_used !== null) row("Attempts", `${quiz.attempts_used} used of ${allowed}`);
    else row("Attempts allowed", allowed);
    if (quiz.passing_percent !== null) row("Pass mark", `${quiz.passing_percent} %`);
    list.id = "quiz-settings";
    return list;
  }

  attemptsLeft() {
    const q = this.quiz;
    return q.attempts_allowed === null || (q.attempts_used ?? 0) < q.attempts_allowed;
  }

  startButton(label) {
    const start = el("button", label || (this.quiz.attempts_used ? "Start or resume the quiz" : "Start the quiz"), "button");
    start.type = "button";
    start.id = "quiz-start";
    start.addEventListener("click", async () => {
      start.disabled = true;
      try {
        const attempt = await api("POST", `/lessons/${this.lesson.id}/quiz/attempts`);
        this.say("");
        start.remove();
        this.take(attempt);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        start.disabled = false;
        this.say(problemText(error), "error");
      }
    });
    this.body.append(start);
  }

  take(attempt) {
    store(attemptKey(this.lesson.id), attempt.id);
    this.attempt = attempt;
    this.closing = false;
    this.warned = false;
    const statuses = new Map();
    this.saver = new Saver(
      attempt,
      (questionId, state, text) => {
        const node = questionId === null ? this.overall : statuses.get(questionId);
        if (!node) return;
        node.textContent = text;
        node.dataset.state = state;
      },
      () => this.finished(),
    );
    const bar = el("div", null, "quiz-bar");
    this.clock = el("p", "", "quiz-timer");
    this.clock.id = "quiz-timer";
    this.clock.hidden = attempt.seconds_left === null;
    this.warning = el("p", "", "quiz-warning");
    this.warning.setAttribute("role", "alert");
    this.overall = el("p", "", "quiz-overall");
    this.overall.id = "quiz-save-state";
    this.overall.setAttribute("role", "status");
    bar.append(this.clock, this.overall);
    const list = el("ol", null, "quiz-questions");
    const saved = new Map(attempt.answers.map((a) => [a.question_id, a.answer]));
    this.widgets = [];
    attempt.questions.forEach((q, index) => {
      const item = el("li", null, "quiz-question");
      item.dataset.questionId = q.id;
      item.dataset.type = q.type;
      const headingId = `quiz-q-${index + 1}`;
      const heading = el("h3", `Question ${index + 1}`, "quiz-question-title");
      heading.id = headingId;
      item.setAttribute("aria-labelledby", headingId);
      const meta = el("p", `${TYPE_NAMES[q.type] || q.type} · ${points(q.points)} ${q.points === 1 ? "point" : "points"}`, "muted quiz-meta");
      const prompt = sanitisedPrompt(q.prompt_html);
      const status = el("p", "", "quiz-save");
      status.setAttribute("aria-live", "polite");
      statuses.set(q.id, status);
      const widget = answerWidget(q, prompt, (answer, typing) => this.saver.change(q.id, answer, typing));
      item.append(heading, meta, prompt);
      if (widget) {
        if (saved.has(q.id)) widget.set(saved.get(q.id));
        item.append(widget.node);
        this.widgets.push(widget);
      } else {
        item.append(el("p", "This type of question cannot be answered here yet.", "muted"));
      }
      item.append(status);
      if (saved.has(q.id)) {
        status.textContent = "Saved";
        status.dataset.state = "saved";
      }
      list.append(item);
    });
    const submit = el("button", "Submit the quiz", "button");
    submit.type = "button";
    submit.id = "quiz-submit";
    submit.addEventListener("click", () => this.submit(submit));
    this.body.replaceChildren(bar, this.warning, list, submit);
    this.sync(attempt);
    if (!this.listening) {
      this.listening = true;
      window.addEventListener("online", () => this.refresh());
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") this.refresh();
      });
    }
  }

  /** Asks the server for the attempt again: its clock wins over this page's. */
  async refresh() {
    if (!this.attempt || this.closing) return;
    try {
      const attempt = await api("GET", `/quiz-attempts/${this.attempt.id}`);
      if (this.closing) return;
      if (attempt.status === "in_progress") this.sync(attempt);
      else this.finished();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }

  /** The countdown starts again from the server's figure. */
  sync(attempt) {
    window.clearInterval(this.ticker);
    this.ticker = null;
    if (attempt.seconds_left === null || attempt.status !== "in_progress") return;
    const ends = performance.now() + attempt.seconds_left * 1000;
    const tick = () => {
      const left = (ends - performance.now()) / 1000;
      this.clock.textContent = `Time left: ${formatClock(left)}`;
      const warn = left <= WARN_AT_SECONDS;
      this.clock.classList.toggle("quiz-timer-warn", warn);
      if (warn && !this.warned && left > 0) {
        this.warned = true;
        this.warning.textContent = "One minute left: your answers are saved as you go.";
      }
      if (left <= 0) {
        window.clearInterval(this.ticker);
        this.ticker = null;
        this.timeUp();
      }
    };
    tick();
    if (this.ticker === null && !this.closing) this.ticker = window.setInterval(tick, 250);
  }

  lock() {
    for (const widget of this.widgets || []) widget.disable();
    const submit = document.getElementById("quiz-submit");
    if (submit) submit.disabled = true;
  }

  async timeUp() {
    if (this.closing) return;
    this.closing = true;
    this.lock();
    this.warning.textContent = "Time is up: your saved answers are being submitted…";
    await this.saver.flush(); // the server takes a save in flight for 2 s more
    this.finished();
  }

  /** The attempt ended (time up, or the server refused a save): wait for the server's result. */
  async finished() {
    this.closing = true;
    this.lock();
    this.saver?.close();
    for (;;) {
      try {
        const attempt = await api("GET", `/quiz-attempts/${this.attempt.id}`);
        if (attempt.status !== "in_progress") {
          this.result(attempt);
          return;
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status !== 0) {
          this.say(problemText(error), "error");
          return;
        }
      }
      await new Promise((resolve) => window.setTimeout(resolve, CLOSE_POLL_MS));
    }
  }

  async submit(button) {
    if (!window.confirm("Submit your answers? You cannot change them afterwards.")) return;
    button.disabled = true;
    this.say("Saving your last answers…");
    await this.saver.flush();
    if (this.saver.offline) {
      button.disabled = false;
      this.say("You are offline: the quiz will be submittable once your answers are saved.", "error");
      return;
    }
    try {
      const attempt = await api("POST", `/quiz-attempts/${this.attempt.id}/submit`);
      this.saver.close();
      this.result(attempt);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      button.disabled = false;
      this.say(problemText(error), "error");
    }
  }

  async result(attempt) {
    window.clearInterval(this.ticker);
    this.ticker = null;
    store(seqKey(attempt.id), null);
    const box = el("section", null, "quiz-result");
    box.id = "quiz-result";
    box.setAttribute("aria-labelledby", "quiz-result-title");
    const title = el("h3", `Result of attempt ${attempt.number}`);
    title.id = "quiz-result-title";
    title.tabIndex = -1;
    const score = el("p", `Score: ${points(attempt.score ?? 0)} / ${points(attempt.max_score)}`, "quiz-score");
    score.id = "quiz-score";
    box.append(title, score);
    if (attempt.auto_submitted) {
      box.append(el("p", "Time ran out: the answers saved by then were submitted.", "quiz-auto"));
    }
    if (attempt.needs_manual) box.append(el("p", "Some answers wait for a person to grade them.", "muted"));
    if (attempt.passed !== null) {
      box.append(el("p", attempt.passed ? "Passed" : "Not passed", attempt.passed ? "quiz-passed" : "quiz-failed"));
    }
    const byId = new Map(attempt.questions.map((q, i) => [q.id, { q, n: i + 1 }]));
    const list = el("ol", null, "quiz-review");
    for (const item of attempt.review || []) {
      const { q, n } = byId.get(item.question_id) || { q: null, n: "?" };
      const row = el("li", null, "quiz-review-item");
      row.dataset.questionId = item.question_id;
      const got = item.points === null ? "awaits grading" : `${points(item.points)} / ${points(item.max_points)}`;
      row.append(el("p", `Question ${n}: ${got}`, "quiz-review-points"));
      if (item.answer_key && q) {
        const key = el("ul", null, "quiz-key");
        for (const line of keyLines(q, item.answer_key)) key.append(el("li", line));
        row.append(key);
      }
      list.append(row);
    }
    box.append(list);
    this.body.replaceChildren(box);
    this.warning = null;
    title.focus();
    // The attempt count changed: show the settings anew, and Start again if attempts are left.
    try {
      this.quiz = await api("GET", `/lessons/${this.lesson.id}/quiz`);
      document.getElementById("quiz-settings")?.replaceWith(this.settings(this.quiz));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    await this.showHistory();
    if (this.attemptsLeft() && !document.getElementById("quiz-start")) {
      this.startButton("Start a new attempt");
    }
  }
}

async function mount() {
  const root = document.getElementById("quiz");
  if (!root || document.body.dataset.page !== "learn") return;
  let lesson;
  try {
    lesson = await api("GET", `/lessons/${encodeURIComponent(pathTail())}`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return; // the page's own script says why the lesson cannot be shown
  }
  if (lesson.kind !== "quiz") return;
  document.getElementById("lesson")?.classList.add("has-quiz");
  root.hidden = false;
  await new QuizPage(lesson, root).load();
}

mount();
