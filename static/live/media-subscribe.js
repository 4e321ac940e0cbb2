// Receiving (everyone): one subscribe transport carries every published track of the room but
// one's own. The server offers (the ack of `media:subscribe`, or `media:offer` when it
// renegotiates), we answer with `media:answer` and its `revision`; each m-line is one track
// (the offer's `tracks` map mid -> track_id). One negotiation at a time: a sync, an offer
// and a restart wait for each other. An ICE restart (or a Socket.IO reconnect) makes a new
// transport; the old one keeps playing until the new one connects.

import { say } from "../ui.js";
import { messages } from "./common.js";
import { Transport } from "./media-transport.js";

const MAX_WAIT = 5000;

export class Subscriber {
  constructor(media) {
    this.media = media;
    this.room = media.room;
    this.transport = null; // the one shown
    this.pending = null; // a new one, shown once it connects
    this.queued = false;
    this.lock = Promise.resolve();
    this.replace = null; // "restart" | "fresh": the next sync makes a new transport
    this.retry = null;
    this.wait = 500;
  }

  /** The transport the server knows as ours: the newest. */
  get current() {
    return this.pending || this.transport;
  }

  exclusive(fn) {
    const run = this.lock.then(fn).catch((error) => {
      // The browser refused the server's offer: receive on a new transport.
      console.warn("Receiving failed:", error);
      this.later(true);
    });
    this.lock = run;
    return run;
  }

  /** Runs one sync after what is queued, coalescing requests made meanwhile. */
  schedule() {
    if (this.queued) return this.lock;
    this.queued = true;
    return this.exclusive(async () => {
      this.queued = false;
      await this.sync();
    });
  }

  later(restart = false) {
    if (restart && !this.replace) this.replace = "restart";
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.schedule(), this.wait);
    this.wait = Math.min(this.wait * 2, MAX_WAIT);
  }

  /** The room's tracks we want: all but our own. */
  wanted() {
    const me = this.room.you && this.room.you.user_id;
    return [...this.media.tracks.values()]
      .filter((t) => t.user_id !== me)
      .map((t) => t.track_id);
  }

  async sync() {
    if (!this.room.connection.connected || this.room.closed) return;
    const wanted = this.wanted();
    const t = this.current;
    if (!t || this.replace || t.closed) {
      if (!wanted.length) return; // nothing to receive: a restart waits for a track
      await this.open(wanted);
      return;
    }
    const carried = new Set(t.subscribed.map((s) => s.track_id));
    const add = wanted.filter((id) => !carried.has(id));
    if (!add.length) return;
    const ack = await this.room.call("media:subscribe", { track_ids: add });
    if (!ack.ok) {
      this.problem(ack.problem);
      return;
    }
    this.wait = 500;
    await this.apply(t, ack.data);
  }

  async open(wanted) {
    const restart = this.replace === "restart" && Boolean(this.current);
    const t = new Transport(this.room, "subscribe", {
      failed: (failed) => {
        if (failed === this.current) this.restart();
      },
      connected: (connected) => this.connected(connected),
    });
    const problem = await t.open();
    if (problem) {
      t.close();
      this.problem(problem);
      return;
    }
    // The view maps each track by its transceiver's mid (the offer's `tracks`).
    t.pc.addEventListener("track", () => this.media.render());
    const ack = await this.room.call("media:subscribe", { track_ids: wanted, restart });
    if (!ack.ok) {
      t.close();
      this.problem(ack.problem);
      return;
    }
    this.wait = 500;
    this.replace = null;
    if (this.pending) this.pending.close(); // an earlier new one not connected yet
    this.pending = t;
    await this.apply(t, ack.data);
  }

  /** Sets the server's offer, answers it; ``offer``: {transport_id, revision, sdp, tracks}. */
  async apply(t, offer) {
    t.name(offer.transport_id);
    t.revision = offer.revision;
    t.subscribed = offer.tracks;
    await t.pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await t.pc.setLocalDescription(await t.pc.createAnswer());
    const ack = await this.room.call("media:answer", {
      transport_id: t.id,
      revision: offer.revision,
      sdp: t.pc.localDescription.sdp,
    });
    // offer_superseded: a newer offer is on its way; transport_not_found: a restart follows.
    if (!ack.ok && !["offer_superseded", "transport_not_found", "offline"].includes(ack.problem.code)) {
      console.warn("media:answer refused:", ack.problem);
      this.later(true);
    }
    this.media.render();
  }

  connected(t) {
    if (t !== this.pending) return;
    const old = this.transport;
    this.transport = t;
    this.pending = null;
    if (old) old.close();
    this.media.render();
  }

  /** `media:offer`: the server renegotiates our subscribe transport. */
  offer(data) {
    this.exclusive(async () => {
      const t = this.current;
      if (t && t.id === data.transport_id && !t.closed) await this.apply(t, data);
    });
    this.schedule(); // a track that came back while the offer waited is subscribed after it
  }

  /** `media:restart` for our subscribe transport, ICE gave up, or the browser is online again. */
  restart(transportId = null) {
    const t = this.current;
    if (!t || (transportId && t.id !== transportId)) return;
    this.replace = "restart";
    this.schedule();
  }

  /** After a Socket.IO reconnect: a new transport (the old one plays until it connects). */
  reconnected() {
    if (this.pending) this.pending.close();
    this.pending = null;
    this.replace = "fresh";
    this.wait = 500;
  }

  problem(problem) {
    switch (problem.code) {
      case "offline":
      case "removed_from_session":
      case "live_session_not_live":
        return; // the reconnect (or the end of the room) takes over
      case "track_not_found":
        // The list we hold is out of date: read it again, then subscribe to what is there.
        this.media.fetchTracks().then(() => this.later());
        return;
      case "media_unavailable":
        this.wait = Math.max(500, (Number(problem.retry_after) || 2) * 1000);
        this.later();
        return;
      case "transport_not_found":
        this.later(true);
        return;
      case "negotiation_in_progress":
      case "rate_limited":
      case "timeout":
        this.later();
        return;
      default:
        say(messages, `Receiving video failed: ${problem.detail || problem.code}`, "error");
    }
  }

  /** The MediaStreamTrack of ``trackId`` on the shown transport, if it carries it. */
  trackOf(trackId) {
    for (const t of [this.transport, this.pending]) {
      if (!t || t.closed || !t.pc) continue;
      const line = t.subscribed.find((s) => s.track_id === trackId);
      if (!line) continue;
      const tx = t.pc.getTransceivers().find((x) => x.mid === line.mid);
      if (tx && tx.receiver.track) return { track: tx.receiver.track, transport: t };
    }
    return null;
  }

  close() {
    clearTimeout(this.retry);
    for (const t of [this.transport, this.pending]) if (t) t.close();
    this.transport = null;
    this.pending = null;
  }
}
