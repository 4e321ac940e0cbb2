// The live room's connection: the Socket.IO namespace /live over WebSocket with a single-use
// join ticket for every (re)connect, the session cookie as a fallback; emits with an ack and a
// timeout; the refusals no retry will fix; and the replay of a seq-numbered history.

import { api } from "../api.js";
import { el, link, say } from "../ui.js";
import { io } from "../vendor/socket.io-client/socket.io.esm.min.js";
import { messages } from "./common.js";

const ACK_TIMEOUT = 10_000;
const REMOVED = "The host removed you from this session. Ask them to let you back in.";
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

/**
 * The socket of one room (``room``: the LiveRoom of static/live-room.js). Every connect is
 * followed by ``room.sync()``; the ending notices close the room.
 */
export class Connection {
  constructor(room) {
    this.room = room;
    this.socket = null;
  }

  get connected() {
    return Boolean(this.socket && this.socket.connected);
  }

  /** Connects; each of ``parts`` registers the broadcasts it follows (``part.listen``). */
  open(parts) {
    const room = this.room;
    room.setStatus("connecting", "Connecting…");
    const socket = io("/live", {
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      // Called for every (re)connect: a ticket is good for one connection only.
      auth: (cb) => this.credentials(cb),
    });
    this.socket = socket;
    socket.on("connect", () => room.sync());
    socket.on("disconnect", (reason) => {
      if (room.closed) return;
      room.setStatus("disconnected", "Connection lost, reconnecting…");
      if (reason === "io server disconnect") {
        // The server let go of us without an ending notice: try again shortly.
        setTimeout(() => !room.closed && socket.connect(), 1000);
      }
    });
    socket.on("connect_error", (err) => {
      const problem = err && err.data;
      if (problem && problem.code && FINAL.has(problem.code)) {
        if (problem.code === "live_session_not_live") {
          room.close("ended", "This session has ended.");
        } else if (problem.code === "removed_from_session") {
          room.close("removed", REMOVED);
        } else {
          room.setStatus("failed", "Not connected.");
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
      room.setStatus("disconnected", "Cannot connect, retrying…");
      // A refusal by the server (socket.active false) is not retried by the client itself.
      if (!socket.active) setTimeout(() => !room.closed && socket.connect(), 2000);
    });
    for (const part of parts) part.listen(socket);
    socket.on("room:resync", () => room.sync());
    socket.on("session:ended", () => room.close("ended", "The host has ended this session."));
    socket.on("removed", () => room.close("removed", REMOVED));
  }

  /**
   * A fresh join ticket for the connect. While the network is down, wait and ask again (the
   * connect waits too). If the API refuses one, connect with the session cookie instead: the
   * server's refusal then comes back as connect_error with its reason.
   */
  async credentials(cb) {
    const room = this.room;
    for (let wait = 500; !room.closed; wait = Math.min(wait * 2, 5000)) {
      try {
        const t = await api("POST", `/live-sessions/${room.sessionId}/join-ticket`);
        cb({ ticket: t.ticket });
        return;
      } catch (error) {
        if (error.status !== 0) {
          cb({ live_session_id: room.sessionId });
          return;
        }
        room.setStatus("disconnected", "Offline, waiting for the network…");
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Emits with an ack; resolves to the ack, or a problem when no answer comes. */
  call(event, data) {
    return new Promise((resolve) => {
      if (!this.connected) {
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

  close() {
    if (this.socket) this.socket.close();
  }
}

/**
 * The replay rule for a seq-numbered history (chat:history, wb:history): everything after the
 * highest contiguous seq held, page by page. ``fetchPage`` asks for one page and takes it in;
 * it resolves to ``{ more, progress }``, or null when the server did not give it. One fetch runs
 * at a time: asked for while one runs (a resync during a reconnect), it runs once more after.
 */
export class Replay {
  constructor(fetchPage) {
    this.fetchPage = fetchPage;
    this.running = null;
    this.again = false;
  }

  run() {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        for (;;) {
          this.again = false;
          const page = await this.fetchPage();
          if (!page) return;
          if (!(page.more && page.progress) && !this.again) return;
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
