// /live/{live session id}: the live room. Connects to the Socket.IO namespace /live over
// WebSocket with a single-use join ticket (POST /live-sessions/{id}/join-ticket; a new one for
// every reconnect, the session cookie as a fallback), then follows docs/live-protocol.md:
//
// * `join` after every connect (and on `room:resync`) gives participants, the open poll and,
//   the first time, the chat tail and the whiteboard snapshot + ops;
// * chat and whiteboard ops carry per-room sequence numbers: the page keeps the highest
//   contiguous one it holds, fetches `chat:history` / `wb:history` after it on reconnect, on
//   resync and on a gap, and drops anything it already holds, so nothing is lost or doubled;
// * sends carry a client id (chat `client_id`, whiteboard `client_op_id`): what was not
//   acknowledged is resent after the next sync, and the server stores it once.
//
// A plain ES module (CSP script-src 'self'); server text goes in with textContent only.

import { api } from "./api.js";
import { button, el, link, pathTail, say, sayProblem } from "./ui.js";
import { io } from "./vendor/socket.io-client/socket.io.esm.min.js";
import { pdfFromJpegs } from "./pdf.js";
import { Board, HEIGHT, WIDTH, drawItem, paintPage } from "./whiteboard.js";

const $ = (id) => document.getElementById(id);
const messages = $("messages");
const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const ROLE = { host: "Host", presenter: "Presenter", attendee: "Attendee" };
const ACK_TIMEOUT = 10_000;
const REMOVED = "The host removed you from this session. Ask them to let you back in.";
// A stroke longer than this many points is sent as several ops (an op is at most 64 KB).
const MAX_POINTS = 1500;
// Connect refusals that no retry will fix.
const FINAL = new Set([
  "enrollment_required",
  "live_session_not_found",
  "live_session_not_live",
  "not_authenticated",
  "session_expired",
  "csrf_origin_mismatch",
  "csrf_origin_missing",
  "removed_from_session",
]);

function newId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const round = (n) => Math.round(n * 10) / 10;

class LiveRoom {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.socket = null;
    this.you = null;
    this.synced = false; // the first join state has been applied
    this.closed = null; // "ended" | "removed" once the room is over for us
    this.participants = new Map();
    this.removed = new Map(); // the host's list of removed people: user_id -> {user_id, name}
    this.names = new Map(); // user_id -> name, kept after people leave
    // chat
    this.chat = new Map(); // seq -> message
    this.chatSeq = 0; // highest seq held with nothing missing below it (after the first join)
    this.pendingChat = new Map(); // client_id -> {body, node}
    this.chatFetch = null;
    // whiteboard
    this.board = new Board();
    this.wbSeq = 0;
    this.wbWaiting = new Map(); // seq -> op received ahead of a gap
    this.pendingOps = new Map(); // client_op_id -> op (not yet acknowledged)
    this.wbFetch = null;
    this.page = 0;
    this.addedPage = 0; // the highest page added here (it has no op until someone draws)
    this.tool = "pen";
    this.drawing = null;
    this.poll = null;
    this.canvas = $("wb-canvas");
    this.ctx = this.canvas.getContext("2d");
    this.base = document.createElement("canvas"); // the confirmed board of this page
    this.base.width = WIDTH;
    this.base.height = HEIGHT;
    this.baseDirty = true;
    this.frame = 0;
  }

  // --- connection ---------------------------------------------------------------------------

  async start() {
    let session;
    try {
      session = await api("GET", `/live-sessions/${this.sessionId}`);
    } catch (error) {
      this.setStatus("failed", "Not connected.");
      sayProblem(messages, error, "This live session cannot be opened: ");
      return;
    }
    $("room-title").textContent = session.title;
    document.title = `${session.title} · Live · Seminar`;
    if (session.status === "ended" || session.status === "cancelled") {
      this.close("ended", `This session has ${session.status === "ended" ? "ended" : "been cancelled"}.`);
      return;
    }
    if (session.status !== "live") {
      this.setStatus("waiting", "Not started yet.");
      say(messages, "This session has not started yet. Reload the page once it is live.");
      return;
    }
    this.connect();
  }

  connect() {
    this.setStatus("connecting", "Connecting…");
    const socket = io("/live", {
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      // Called for every (re)connect: a ticket is good for one connection only.
      auth: (cb) => this.credentials(cb),
    });
    this.socket = socket;
    socket.on("connect", () => this.sync());
    socket.on("disconnect", (reason) => {
      if (this.closed) return;
      this.setStatus("disconnected", "Connection lost, reconnecting…");
      if (reason === "io server disconnect") {
        // The server let go of us without an ending notice: try again shortly.
        setTimeout(() => !this.closed && socket.connect(), 1000);
      }
    });
    socket.on("connect_error", (err) => {
      const problem = err && err.data;
      if (problem && problem.code && FINAL.has(problem.code)) {
        if (problem.code === "live_session_not_live") {
          this.close("ended", "This session has ended.");
        } else if (problem.code === "removed_from_session") {
          this.close("removed", REMOVED);
        } else {
          this.setStatus("failed", "Not connected.");
          say(messages, `You cannot join this session: ${problem.detail || problem.code}`, "error");
          if (problem.status === 401) {
            const p = el("p");
            p.append(link("/", "Sign in"));
            messages.append(p);
          }
        }
        socket.close();
        return;
      }
      this.setStatus("disconnected", "Cannot connect, retrying…");
      // A refusal by the server (socket.active false) is not retried by the client itself.
      if (!socket.active) setTimeout(() => !this.closed && socket.connect(), 2000);
    });
    socket.on("chat:message", (m) => this.acceptMessage(m));
    socket.on("participant:joined", (p) => this.upsertParticipant(p));
    socket.on("participant:changed", (p) => this.upsertParticipant(p));
    socket.on("participant:left", ({ user_id: id }) => {
      this.participants.delete(id);
      this.renderPeople();
    });
    socket.on("hand:changed", ({ user_id: id, hand_raised_at: at }) => {
      const p = this.participants.get(id);
      if (p) this.upsertParticipant({ ...p, hand_raised_at: at });
    });
    socket.on("poll:opened", (poll) => this.setPoll({ ...poll, your_vote: null }));
    socket.on("poll:results", (r) => {
      if (this.poll && this.poll.id === r.poll_id && r.total >= this.poll.total) {
        this.setPoll({ ...this.poll, counts: r.counts, total: r.total });
      }
    });
    socket.on("poll:closed", (poll) => {
      const mine = this.poll && this.poll.id === poll.id ? this.poll.your_vote : null;
      this.setPoll({ ...poll, your_vote: mine });
    });
    socket.on("wb:op", (op) => this.acceptOp(op, true));
    socket.on("room:resync", () => this.sync());
    socket.on("session:ended", () => this.close("ended", "The host has ended this session."));
    socket.on("removed", () => this.close("removed", REMOVED));
  }

  /**
   * A fresh join ticket for the connect. While the network is down, wait and ask again (the
   * connect waits too). If the API refuses one, connect with the session cookie instead: the
   * server's refusal then comes back as connect_error with its reason.
   */
  async credentials(cb) {
    for (let wait = 500; !this.closed; wait = Math.min(wait * 2, 5000)) {
      try {
        const t = await api("POST", `/live-sessions/${this.sessionId}/join-ticket`);
        cb({ ticket: t.ticket });
        return;
      } catch (error) {
        if (error.status !== 0) {
          cb({ live_session_id: this.sessionId });
          return;
        }
        this.setStatus("disconnected", "Offline, waiting for the network…");
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Emits with an ack; resolves to the ack, or a problem when no answer comes. */
  call(event, data) {
    return new Promise((resolve) => {
      if (!this.socket || !this.socket.connected) {
        resolve({ ok: false, problem: { code: "offline", detail: "You are offline." } });
        return;
      }
      const done = (err, ack) =>
        resolve(
          err
            ? { ok: false, problem: { code: "timeout", detail: "The server did not answer." } }
            : ack,
        );
      const timed = this.socket.timeout(ACK_TIMEOUT);
      if (data === undefined) timed.emit(event, done);
      else timed.emit(event, data, done);
    });
  }

  async sync() {
    const ack = await this.call("join");
    if (!ack.ok) {
      if (ack.problem.code === "live_session_not_live") this.close("ended", "This session has ended.");
      else say(messages, `Joining failed: ${ack.problem.detail}`, "error");
      return;
    }
    const state = ack.data;
    this.you = state.you;
    this.participants.clear();
    for (const p of state.participants) this.participants.set(p.user_id, p);
    this.participants.set(state.you.user_id, state.you);
    for (const p of this.participants.values()) this.names.set(p.user_id, p.name);
    if (!this.synced) {
      // The chat tail and the board come with the first join; later ones only fill gaps.
      this.chatSeq = state.chat.length ? state.chat[0].seq - 1 : state.last_seq;
      for (const m of state.chat) this.acceptMessage(m);
      const wb = state.whiteboard;
      this.board.load(wb.snapshot.pages);
      this.wbSeq = wb.snapshot.seq;
      // Broadcasts that came before this state and are in the snapshot already.
      for (const seq of [...this.wbWaiting.keys()]) if (seq <= this.wbSeq) this.wbWaiting.delete(seq);
      for (const op of wb.ops) this.acceptOp(op, false);
      this.synced = true;
      // Announce new messages only from now on, not the whole tail.
      $("chat-list").setAttribute("aria-live", "polite");
    } else {
      for (const m of state.chat) this.acceptMessage(m);
    }
    this.setPoll(state.poll);
    this.removed = new Map((state.removed || []).map((r) => [r.user_id, r]));
    this.renderPeople();
    this.renderRole();
    this.setStatus("connected", "Connected.");
    await Promise.all([this.fetchChat(), this.fetchOps()]);
    this.resendPending();
  }

  setStatus(state, text) {
    const status = $("room-status");
    status.dataset.state = state;
    status.textContent = text;
    const usable = state === "connected";
    $("chat-input").disabled = !usable || Boolean(this.you && this.you.chat_muted);
    $("chat-send").disabled = $("chat-input").disabled;
    $("hand-toggle").disabled = !usable;
  }

  close(kind, text) {
    if (this.closed) return;
    this.closed = kind;
    const alert = $("room-alert");
    alert.replaceChildren(el("p", text));
    const p = el("p");
    p.append(link("/live", "Back to my live sessions"));
    alert.append(p);
    alert.hidden = false;
    alert.dataset.kind = kind;
    this.setStatus(kind, kind === "removed" ? "Removed from the session." : "Session ended.");
    for (const node of document.querySelectorAll(
      "#room button:not(#wb-prev):not(#wb-next):not(#wb-png):not(#wb-pdf), #room input, #room textarea, #room select",
    )) {
      if (node.id !== "wb-follow") node.disabled = true;
    }
    $("room-title").focus();
    if (this.socket) this.socket.close();
  }

  // --- chat -----------------------------------------------------------------------------------

  acceptMessage(m) {
    const pending = this.pendingChat.get(m.client_id);
    if (pending && this.you && m.user_id === this.you.user_id) {
      pending.node.remove();
      this.pendingChat.delete(m.client_id);
    }
    if (this.chat.has(m.seq)) return;
    this.chat.set(m.seq, m);
    this.insertMessage(m);
    while (this.chat.has(this.chatSeq + 1)) this.chatSeq += 1;
    if (this.synced && m.seq > this.chatSeq + 1) this.fetchChat();
  }

  insertMessage(m) {
    const list = $("chat-list");
    const li = el("li", null, "chat-message");
    li.dataset.seq = String(m.seq);
    li.dataset.userId = m.user_id;
    const head = el("p", null, "chat-head");
    const who = el("span", this.nameOf(m.user_id), "chat-name");
    who.dataset.userId = m.user_id;
    const when = el("time", TIME.format(new Date(m.created_at)), "muted");
    when.dateTime = m.created_at;
    head.append(who, " ", when);
    li.append(head, el("p", m.body, "chat-body"));
    // In seq order, before any message still being sent.
    let before = null;
    for (const node of list.children) {
      const seq = node.dataset.seq ? Number(node.dataset.seq) : Infinity;
      if (seq > m.seq) {
        before = node;
        break;
      }
    }
    list.insertBefore(li, before);
    if (!before || before.classList.contains("pending")) list.scrollTop = list.scrollHeight;
  }

  nameOf(userId) {
    if (this.you && userId === this.you.user_id) return `${this.you.name} (you)`;
    return this.names.get(userId) || "A former participant";
  }

  /** Everything after the highest contiguous seq, page by page (the replay rule). */
  fetchChat() {
    if (this.chatFetch) {
      this.chatAgain = true; // asked for during a fetch: ask once more after it
      return this.chatFetch;
    }
    this.chatFetch = (async () => {
      try {
        for (;;) {
          this.chatAgain = false;
          const ack = await this.call("chat:history", { after_seq: this.chatSeq, limit: 200 });
          if (!ack.ok) return;
          const before = this.chatSeq;
          for (const m of ack.data.messages) this.acceptMessage(m);
          if (ack.data.messages.length) {
            this.chatSeq = Math.max(this.chatSeq, ack.data.messages.at(-1).seq);
          }
          const progress = this.chatSeq !== before;
          if (!(ack.data.more && progress) && !this.chatAgain) return;
        }
      } finally {
        this.chatFetch = null;
      }
    })();
    return this.chatFetch;
  }

  sendChat(body) {
    const clientId = newId("c");
    const node = el("li", null, "chat-message pending");
    node.append(el("p", `${this.you ? this.you.name : "You"} (you) · sending…`, "chat-head muted"));
    node.append(el("p", body, "chat-body"));
    $("chat-list").append(node);
    this.pendingChat.set(clientId, { body, node });
    this.deliverChat(clientId);
  }

  async deliverChat(clientId) {
    const pending = this.pendingChat.get(clientId);
    if (!pending || !this.socket || !this.socket.connected) return;
    const ack = await this.call("chat:send", { body: pending.body, client_id: clientId });
    if (ack.ok) {
      this.acceptMessage(ack.data);
    } else if (!["offline", "timeout", "rate_limited", "database_unavailable"].includes(ack.problem.code)) {
      pending.node.remove();
      this.pendingChat.delete(clientId);
      say(messages, `Your message was not sent: ${ack.problem.detail}`, "error");
    }
    // Offline or no answer: it stays pending and is resent after the next sync.
  }

  // --- people ---------------------------------------------------------------------------------

  upsertParticipant(p) {
    this.participants.set(p.user_id, p);
    this.names.set(p.user_id, p.name);
    for (const node of document.querySelectorAll(`.chat-name[data-user-id="${p.user_id}"]`)) {
      node.textContent = this.nameOf(p.user_id);
    }
    if (this.you && p.user_id === this.you.user_id) {
      this.you = p;
      this.renderRole();
    }
    this.renderPeople();
  }

  renderPeople() {
    const list = $("people-list");
    const rank = { host: 0, presenter: 1, attendee: 2 };
    const people = [...this.participants.values()].sort(
      (a, b) =>
        rank[a.role] - rank[b.role] ||
        (a.hand_raised_at ? 0 : 1) - (b.hand_raised_at ? 0 : 1) ||
        String(a.hand_raised_at).localeCompare(String(b.hand_raised_at)) ||
        a.name.localeCompare(b.name),
    );
    const host = this.you && this.you.role === "host";
    list.replaceChildren(
      ...people.map((p) => {
        const li = el("li", null, "person");
        li.dataset.userId = p.user_id;
        li.dataset.role = p.role;
        const line = el("p", null, "person-line");
        line.append(el("span", p.name, "person-name"));
        if (this.you && p.user_id === this.you.user_id) line.append(el("span", " (you)", "muted"));
        line.append(" ", el("span", ROLE[p.role] || p.role, `badge role-${p.role}`));
        if (p.hand_raised_at) {
          const hand = el("span", "✋ Hand raised", "badge hand");
          li.dataset.hand = "raised";
          line.append(" ", hand);
        }
        if (p.chat_muted) line.append(" ", el("span", "Muted", "badge muted-badge"));
        li.append(line);
        if (host && p.role !== "host") li.append(this.moderation(p));
        return li;
      }),
    );
    $("people-count").textContent = `(${people.length})`;
    const removed = [...this.removed.values()];
    $("removed-box").hidden = !host || removed.length === 0;
    $("removed-list").replaceChildren(
      ...removed.map((r) => {
        const li = el("li", null, "person");
        li.dataset.userId = r.user_id;
        const back = button("Let back in", "button secondary small", `Let ${r.name} back in`);
        back.addEventListener("click", () =>
          this.moderate("participant:readmit", { user_id: r.user_id }),
        );
        li.append(el("span", r.name, "person-name"), " ", back);
        return li;
      }),
    );
    const me = this.you && this.participants.get(this.you.user_id);
    const raised = Boolean(me && me.hand_raised_at);
    const toggle = $("hand-toggle");
    toggle.textContent = raised ? "Lower hand" : "Raise hand";
    toggle.setAttribute("aria-pressed", String(raised));
  }

  moderation(p) {
    const box = el("p", null, "person-actions");
    const mute = button(p.chat_muted ? "Unmute" : "Mute", "button secondary small",
      `${p.chat_muted ? "Unmute" : "Mute"} ${p.name} in chat`);
    mute.addEventListener("click", () =>
      this.moderate("participant:mute", { user_id: p.user_id, muted: !p.chat_muted }));
    const presenter = p.role === "presenter";
    const role = button(presenter ? "Make attendee" : "Make presenter", "button secondary small",
      `${presenter ? "Make attendee" : "Make presenter"}: ${p.name}`);
    role.addEventListener("click", () =>
      this.moderate("participant:role", {
        user_id: p.user_id,
        role: presenter ? "attendee" : "presenter",
      }));
    const remove = button("Remove", "button secondary small danger", `Remove ${p.name}`);
    remove.addEventListener("click", () => {
      if (window.confirm(`Remove ${p.name} from the session?`)) {
        this.moderate("participant:remove", { user_id: p.user_id });
      }
    });
    box.append(mute, " ", role, " ", remove);
    return box;
  }

  async moderate(event, data) {
    const ack = await this.call(event, data);
    if (!ack.ok) say(messages, `That did not work: ${ack.problem.detail}`, "error");
    else if (event === "participant:remove") {
      const p = this.participants.get(data.user_id);
      this.removed.set(data.user_id, { user_id: data.user_id, name: p ? p.name : "Someone" });
      this.participants.delete(data.user_id);
      this.renderPeople();
    } else if (event === "participant:readmit") {
      const r = this.removed.get(data.user_id);
      this.removed.delete(data.user_id);
      this.renderPeople();
      if (r) say(messages, `${r.name} may join again.`, "success");
    }
  }

  renderRole() {
    if (!this.you) return;
    const host = this.you.role === "host";
    const draw = host || this.you.role === "presenter";
    $("hands-lower-all").hidden = !host;
    $("session-end").hidden = !host;
    $("poll-form").hidden = !host || Boolean(this.poll && this.poll.status === "open");
    $("wb-tools").hidden = !draw;
    $("wb-add-page").hidden = !draw;
    $("wb-readonly").hidden = draw;
    this.canvas.classList.toggle("can-draw", draw);
    const note = $("chat-note");
    note.hidden = !this.you.chat_muted;
    note.textContent = this.you.chat_muted ? "The host has muted you in chat." : "";
    const connected = this.socket && this.socket.connected;
    $("chat-input").disabled = !connected || this.you.chat_muted;
    $("chat-send").disabled = $("chat-input").disabled;
    this.renderPeople();
  }

  // --- polls ----------------------------------------------------------------------------------

  setPoll(poll) {
    this.poll = poll;
    const box = $("poll-current");
    const host = this.you && this.you.role === "host";
    $("poll-form").hidden = !host || Boolean(poll && poll.status === "open");
    if (!poll) {
      box.replaceChildren(el("p", "No poll open.", "muted"));
      return;
    }
    box.dataset.pollId = poll.id;
    box.dataset.status = poll.status;
    const title = el("h3", poll.question, "poll-question");
    const state = el(
      "p",
      `${poll.status === "open" ? "Open" : "Closed"} · ${poll.total} vote${poll.total === 1 ? "" : "s"}`,
      "muted",
    );
    const list = el("ul", null, "poll-options");
    poll.options.forEach((option, i) => {
      const li = el("li", null, "poll-option");
      const count = poll.counts[i] || 0;
      const id = `poll-bar-${i}`;
      const label = el("span", `${option}: ${count}`, "poll-label");
      label.id = id;
      if (poll.your_vote === i) label.append(" (your vote)");
      const bar = document.createElement("progress");
      bar.max = Math.max(poll.total, 1);
      bar.value = count;
      bar.setAttribute("aria-labelledby", id);
      li.append(label, bar);
      if (poll.status === "open" && poll.your_vote == null) {
        const vote = button("Vote", "button secondary small", `Vote for ${option}`);
        vote.addEventListener("click", () => this.vote(poll.id, i));
        li.append(vote);
      }
      list.append(li);
    });
    box.replaceChildren(title, state, list);
    if (host && poll.status === "open") {
      const close = button("Close poll", "button secondary");
      close.addEventListener("click", async () => {
        const ack = await this.call("poll:close", { poll_id: poll.id });
        if (ack.ok) this.setPoll({ ...ack.data, your_vote: this.poll ? this.poll.your_vote : null });
        else say(messages, `The poll could not be closed: ${ack.problem.detail}`, "error");
      });
      box.append(close);
    }
  }

  async vote(pollId, option) {
    const ack = await this.call("poll:vote", { poll_id: pollId, option });
    if (ack.ok) {
      // A poll:results broadcast may have brought newer counts than the ack.
      const newer = this.poll && this.poll.id === pollId && this.poll.total > ack.data.total;
      this.setPoll(newer ? { ...ack.data, counts: this.poll.counts, total: this.poll.total } : ack.data);
    }
    else if (ack.problem.code === "already_voted" && this.poll) {
      this.setPoll({ ...this.poll, your_vote: ack.problem.your_vote ?? this.poll.your_vote });
    } else say(messages, `Your vote was not counted: ${ack.problem.detail}`, "error");
  }

  async openPoll(form) {
    const question = form.elements.namedItem("question").value.trim();
    const options = form.elements
      .namedItem("options")
      .value.split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!question || options.length < 2) {
      say(messages, "A poll needs a question and at least two options.", "error");
      return;
    }
    const ack = await this.call("poll:open", { question, options });
    if (ack.ok) {
      form.reset();
      this.setPoll({ ...ack.data, your_vote: null });
    } else say(messages, `The poll could not be opened: ${ack.problem.detail}`, "error");
  }

  // --- whiteboard: the op log -----------------------------------------------------------------

  acceptOp(op, live) {
    this.pendingOps.delete(op.client_op_id); // ours, now stored (ids are random: no clash)
    if (op.seq <= this.wbSeq || this.wbWaiting.has(op.seq)) return;
    this.wbWaiting.set(op.seq, op);
    let applied = null;
    while (this.wbWaiting.has(this.wbSeq + 1)) {
      const next = this.wbWaiting.get(this.wbSeq + 1);
      this.wbWaiting.delete(this.wbSeq + 1);
      this.wbSeq = next.seq;
      this.board.apply(next);
      applied = next;
    }
    if (this.wbWaiting.size && this.synced) this.fetchOps();
    if (!applied) return;
    const follow = $("wb-follow").checked && !this.drawing;
    const mine = this.you && applied.user_id === this.you.user_id;
    if (live && follow && !mine && applied.page !== this.page && applied.kind !== "erase") {
      this.showPage(applied.page);
    }
    this.baseDirty = true;
    this.schedule();
  }

  fetchOps() {
    if (this.wbFetch) {
      this.wbAgain = true;
      return this.wbFetch;
    }
    this.wbFetch = (async () => {
      try {
        for (;;) {
          this.wbAgain = false;
          const ack = await this.call("wb:history", { after_seq: this.wbSeq, limit: 500 });
          if (!ack.ok) return;
          const before = this.wbSeq;
          for (const op of ack.data.ops) this.acceptOp(op, false);
          const progress = this.wbSeq !== before;
          if (!(ack.data.more && progress) && !this.wbAgain) return;
        }
      } finally {
        this.wbFetch = null;
      }
    })();
    return this.wbFetch;
  }

  resendPending() {
    for (const clientId of [...this.pendingChat.keys()]) this.deliverChat(clientId);
    for (const op of [...this.pendingOps.values()]) this.deliverOp(op);
  }

  sendOp(kind, data, page = this.page) {
    const op = { client_op_id: newId("w"), page, kind, data };
    if (["stroke", "shape", "text"].includes(kind)) {
      op.user_id = this.you.user_id;
      this.pendingOps.set(op.client_op_id, op);
      this.schedule();
    }
    this.deliverOp(op);
  }

  async deliverOp(op) {
    const { client_op_id: clientOpId, page, kind, data } = op;
    const ack = await this.call("wb:op", { client_op_id: clientOpId, page, kind, data });
    if (ack.ok) {
      this.acceptOp(ack.data, false);
      return;
    }
    if (["offline", "timeout", "rate_limited", "database_unavailable"].includes(ack.problem.code)) {
      this.pendingOps.set(clientOpId, op); // resent after the next sync
      return;
    }
    this.pendingOps.delete(clientOpId);
    this.schedule();
    say(messages, `The whiteboard did not take that: ${ack.problem.detail}`, "error");
  }

  // --- whiteboard: pages and drawing ----------------------------------------------------------

  get pageCount() {
    return Math.max(this.board.lastPage, this.addedPage, this.page) + 1;
  }

  showPage(page) {
    this.page = Math.max(0, Math.min(page, this.pageCount - 1));
    this.baseDirty = true;
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    if (this.baseDirty) {
      paintPage(this.base.getContext("2d"), this.board.items(this.page));
      this.baseDirty = false;
    }
    const ctx = this.ctx;
    ctx.drawImage(this.base, 0, 0);
    for (const op of this.pendingOps.values()) {
      if (op.page === this.page && ["stroke", "shape", "text"].includes(op.kind)) drawItem(ctx, op);
    }
    if (this.drawing && this.drawing.preview) drawItem(ctx, this.drawing.preview, false);
    const c = this.canvas;
    c.dataset.page = String(this.page);
    c.dataset.items = String(this.board.items(this.page).length);
    c.dataset.total = String(this.board.total);
    c.dataset.wbSeq = String(this.wbSeq);
    c.dataset.pending = String(this.pendingOps.size);
    const count = this.pageCount;
    c.setAttribute(
      "aria-label",
      `Whiteboard, page ${this.page + 1} of ${count}: ${this.board.items(this.page).length} item(s)`,
    );
    $("wb-page-label").textContent = `Page ${this.page + 1} of ${count}`;
    $("wb-prev").disabled = this.page === 0;
    $("wb-next").disabled = this.page >= count - 1;
  }

  point(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * WIDTH;
    const y = ((event.clientY - rect.top) / rect.height) * HEIGHT;
    return [round(Math.max(0, Math.min(WIDTH, x))), round(Math.max(0, Math.min(HEIGHT, y)))];
  }

  style() {
    return { color: $("wb-color").value, size: Number($("wb-size").value) };
  }

  canDraw() {
    return Boolean(
      this.you && ["host", "presenter"].includes(this.you.role) && this.socket && !this.closed,
    );
  }

  bindCanvas() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (event) => {
      if (!this.canDraw() || event.button !== 0) return;
      event.preventDefault();
      c.setPointerCapture(event.pointerId);
      const [x, y] = this.point(event);
      const { color, size } = this.style();
      if (this.tool === "text") {
        const text = $("wb-text").value.trim();
        if (!text) {
          say(messages, "Type the text to place first, then click the board.", "error");
          $("wb-text").focus();
          return;
        }
        this.sendOp("text", { x, y, text, color, size: size * 3 });
        return;
      }
      if (this.tool === "eraser") {
        this.drawing = { tool: "eraser", erased: new Set() };
        this.eraseAt(x, y);
        return;
      }
      if (this.tool === "pen") {
        const sim = event.pointerType !== "pen";
        const pressure = sim ? 0.5 : event.pressure || 0.5;
        this.drawing = {
          tool: "pen",
          preview: { kind: "stroke", data: { points: [[x, y, pressure]], color, size, sim } },
        };
      } else {
        this.drawing = {
          tool: this.tool,
          preview: { kind: "shape", data: { type: this.tool, x1: x, y1: y, x2: x, y2: y, color, size: size / 2 } },
        };
      }
      this.schedule();
    });
    c.addEventListener("pointermove", (event) => {
      const d = this.drawing;
      if (!d) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events.length ? events : [event]) {
        const [x, y] = this.point(e);
        if (d.tool === "eraser") this.eraseAt(x, y);
        else if (d.tool === "pen") {
          const data = d.preview.data;
          const pressure = data.sim ? 0.5 : e.pressure || 0.5;
          data.points.push([x, y, round(pressure * 100) / 100]);
          if (data.points.length >= MAX_POINTS) {
            // Send what we have and go on with a new stroke from the same point.
            this.sendOp("stroke", { ...data, points: data.points });
            d.preview = { kind: "stroke", data: { ...data, points: [[x, y, pressure]] } };
          }
        } else {
          d.preview.data.x2 = x;
          d.preview.data.y2 = y;
        }
      }
      this.schedule();
    });
    const finish = () => {
      const d = this.drawing;
      this.drawing = null;
      if (!d || d.tool === "eraser") return;
      const { kind, data } = d.preview;
      if (kind === "shape" && data.x1 === data.x2 && data.y1 === data.y2) {
        this.schedule();
        return;
      }
      this.sendOp(kind, data);
    };
    c.addEventListener("pointerup", finish);
    c.addEventListener("pointercancel", finish);
  }

  eraseAt(x, y) {
    const target = this.board.hit(this.page, x, y);
    if (!target || this.drawing.erased.has(target.seq)) return;
    this.drawing.erased.add(target.seq);
    this.sendOp("erase", { target: target.seq });
  }

  undo() {
    const mine = this.board.lastOwn(this.you.user_id);
    if (!mine) {
      say(messages, "Nothing of yours to undo on the board.");
      return;
    }
    this.sendOp("undo", { target: mine.seq }, mine.page);
  }

  // --- export ---------------------------------------------------------------------------------

  pageCanvas(page) {
    const canvas = document.createElement("canvas");
    canvas.width = WIDTH;
    canvas.height = HEIGHT;
    paintPage(canvas.getContext("2d"), this.board.items(page));
    return canvas;
  }

  async exportPng() {
    const blob = await new Promise((resolve) => this.pageCanvas(this.page).toBlob(resolve, "image/png"));
    download(blob, `whiteboard-page-${this.page + 1}.png`);
  }

  async exportPdf() {
    const images = [];
    for (let page = 0; page < this.pageCount; page += 1) {
      const blob = await new Promise((resolve) =>
        this.pageCanvas(page).toBlob(resolve, "image/jpeg", 0.9),
      );
      images.push({ jpeg: new Uint8Array(await blob.arrayBuffer()), width: WIDTH, height: HEIGHT });
    }
    download(pdfFromJpegs(images), "whiteboard.pdf");
  }

  // --- controls -------------------------------------------------------------------------------

  bindControls() {
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("chat-input");
      const body = input.value.trim();
      if (!body) return;
      input.value = "";
      this.sendChat(body);
      input.focus();
    });
    $("hand-toggle").addEventListener("click", async () => {
      const me = this.participants.get(this.you.user_id);
      const raised = Boolean(me && me.hand_raised_at);
      const ack = await this.call(raised ? "hand:lower" : "hand:raise");
      if (ack.ok && me) this.upsertParticipant({ ...me, hand_raised_at: ack.data.hand_raised_at });
      else if (!ack.ok) say(messages, `That did not work: ${ack.problem.detail}`, "error");
    });
    $("hands-lower-all").addEventListener("click", async () => {
      const ack = await this.call("hand:lower_all");
      if (!ack.ok) say(messages, `That did not work: ${ack.problem.detail}`, "error");
    });
    $("session-end").addEventListener("click", async () => {
      if (!window.confirm("End the session for everyone?")) return;
      const ack = await this.call("session:end");
      if (ack.ok) this.close("ended", "You have ended this session.");
      else say(messages, `The session could not be ended: ${ack.problem.detail}`, "error");
    });
    $("poll-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.openPoll(event.target);
    });
    for (const b of document.querySelectorAll("[data-tool]")) {
      b.addEventListener("click", () => {
        this.tool = b.dataset.tool;
        for (const other of document.querySelectorAll("[data-tool]")) {
          other.setAttribute("aria-pressed", String(other === b));
        }
        $("wb-text-field").hidden = this.tool !== "text";
        this.canvas.dataset.tool = this.tool;
        const hint = $("wb-hint");
        hint.hidden = this.tool !== "text";
        hint.textContent =
          this.tool === "text"
            ? "Type the text, then click the board where it goes (or press Enter to place it)."
            : "";
      });
    }
    // Enter in the text box places the text without a pointer (top left, below what is there).
    $("wb-text").addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || !this.canDraw()) return;
      event.preventDefault();
      const text = $("wb-text").value.trim();
      if (!text) return;
      const { color, size } = this.style();
      const y = 40 + ((this.board.items(this.page).length * size * 4) % (HEIGHT - 120));
      this.sendOp("text", { x: 40, y, text, color, size: size * 3 });
      $("wb-text").value = "";
    });
    $("wb-undo").addEventListener("click", () => this.undo());
    $("wb-clear").addEventListener("click", () => {
      if (window.confirm(`Clear page ${this.page + 1} for everyone? This cannot be undone.`)) {
        this.sendOp("clear", {});
      }
    });
    $("wb-prev").addEventListener("click", () => this.showPage(this.page - 1));
    $("wb-next").addEventListener("click", () => this.showPage(this.page + 1));
    $("wb-add-page").addEventListener("click", () => {
      this.addedPage = this.pageCount;
      this.showPage(this.addedPage);
    });
    $("wb-png").addEventListener("click", () => this.exportPng());
    $("wb-pdf").addEventListener("click", () => this.exportPdf());
  }
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = link(url, filename);
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

if (document.body.dataset.page === "live-room") {
  const room = new LiveRoom(pathTail());
  room.bindControls();
  room.bindCanvas();
  room.render();
  room.start();
}
