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
// This module is the room: it opens the session, applies each join to the parts below, shows
// the connection status and the end of the room. The parts, in static/live/:
//
//   connection.js    the socket: tickets, connect and refusals, acks, the history replay rule
//   chat.js          chat messages in seq order, pending sends
//   people.js        participants, hands, the host's moderation
//   polls.js         the current poll, votes, the host's poll form
//   board-log.js     whiteboard ops in seq order onto the Board (whiteboard.js), pending ops
//   board-view.js    the canvas, pages, following the drawing
//   board-tools.js   drawing on the canvas, text, undo, clear
//   board-export.js  PNG and PDF export
//   media.js         camera, microphone and screen share through the SFU (media-*.js)
//
// Plain ES modules (CSP script-src 'self'); server text goes in with textContent only.

import { api } from "./api.js";
import { el, link, pathTail, say, sayProblem } from "./ui.js";
import { bindExport } from "./live/board-export.js";
import { BoardLog } from "./live/board-log.js";
import { BoardTools } from "./live/board-tools.js";
import { BoardView } from "./live/board-view.js";
import { Chat } from "./live/chat.js";
import { $, messages } from "./live/common.js";
import { Connection } from "./live/connection.js";
import { Media } from "./live/media.js";
import { People } from "./live/people.js";
import { Polls } from "./live/polls.js";

class LiveRoom {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.you = null;
    this.synced = false; // the first join state has been applied
    this.closed = null; // "ended" | "removed" once the room is over for us
    this.connection = new Connection(this);
    this.people = new People(this);
    this.chat = new Chat(this);
    this.polls = new Polls(this);
    this.boardLog = new BoardLog(this);
    this.boardView = new BoardView(this, this.boardLog);
    this.boardTools = new BoardTools(this, this.boardLog, this.boardView);
    this.media = new Media(this);
  }

  bind() {
    this.chat.bind();
    this.people.bind();
    $("session-end").addEventListener("click", async () => {
      if (!window.confirm("End the session for everyone?")) return;
      const ack = await this.call("session:end");
      if (ack.ok) this.close("ended", "You have ended this session.");
      else say(messages, `The session could not be ended: ${ack.problem.detail}`, "error");
    });
    this.polls.bind();
    this.boardTools.bind();
    this.boardView.bind();
    bindExport(this.boardView);
    this.media.bind();
  }

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
    this.connection.open([this.chat, this.people, this.polls, this.boardLog, this.media]);
  }

  /** Emits with an ack; resolves to the ack, or a problem when no answer comes. */
  call(event, data) {
    return this.connection.call(event, data);
  }

  /** After every connect and on room:resync: join, then replay what is missing and resend. */
  async sync() {
    this.people.joining();
    const ack = await this.call("join");
    if (!ack.ok) {
      this.people.inFlight = null;
      if (ack.problem.code === "live_session_not_live") this.close("ended", "This session has ended.");
      else say(messages, `Joining failed: ${ack.problem.detail}`, "error");
      return;
    }
    const state = ack.data;
    this.you = state.you;
    this.people.load(state);
    if (!this.synced) {
      // The chat tail and the board come with the first join; later ones only fill gaps.
      this.chat.loadTail(state);
      this.boardLog.load(state.whiteboard);
      this.synced = true;
      // Announce new messages only from now on, not the whole tail.
      $("chat-list").setAttribute("aria-live", "polite");
    } else {
      for (const m of state.chat) this.chat.accept(m);
    }
    this.polls.set(state.poll);
    this.people.render();
    this.renderRole();
    this.setStatus("connected", "Connected.");
    await Promise.all([this.chat.fetch(), this.boardLog.fetch(), this.media.joined()]);
    this.chat.resend();
    this.boardLog.resend();
  }

  setStatus(state, text) {
    const status = $("room-status");
    status.dataset.state = state;
    status.textContent = text;
    const usable = state === "connected";
    // While reconnecting, chat can still be written: messages wait as pending and go out
    // after the next sync (resent with the same client_id, so never twice).
    this.chat.enable(usable || (state === "disconnected" && Boolean(this.you)));
    $("hand-toggle").disabled = !usable;
  }

  /** What one may do here follows one's role (and mute). */
  renderRole() {
    if (!this.you) return;
    const host = this.you.role === "host";
    const draw = host || this.you.role === "presenter";
    $("hands-lower-all").hidden = !host;
    $("session-end").hidden = !host;
    this.polls.renderForm();
    this.boardView.setCanDraw(draw);
    this.chat.renderMuted();
    this.people.render();
    this.media.renderRole();
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
    this.media.close();
    this.connection.close();
  }
}

if (document.body.dataset.page === "live-room") {
  const room = new LiveRoom(pathTail());
  room.bind();
  room.boardView.render();
  room.start();
}
