// Presenting (host and presenters): camera and microphone from getUserMedia, the screen from
// getDisplayMedia, each a `sendonly` m-line of one publish transport. Every change is a new
// offer (`media:publish` lists what is sent after it); the changes are made one at a time.
// Muting sets `track.enabled` and tells the room (`media:mute`); a device change replaces the
// sender's track without renegotiating; a stopped screen share's m-line goes `inactive` (the
// SFU's answer cannot drop a stopped m-line from BUNDLE). An ICE restart, `media:restart` or
// a Socket.IO reconnect publishes the same tracks again on a new transport.

import { say } from "../ui.js";
import { messages } from "./common.js";
import { Transport } from "./media-transport.js";

export const KINDS = ["camera", "microphone", "screen"];
const RETRY = { rate_limited: 1000, negotiation_in_progress: 500, timeout: 2000 };
const MAX_FAILURES = 10; // retries in a row before giving up (a success starts again)

function mediaError(kind, error) {
  const what = { camera: "camera", microphone: "microphone", screen: "screen" }[kind];
  if (error && error.name === "NotAllowedError") {
    return `The browser was not allowed to use your ${what}.`;
  }
  if (error && error.name === "NotFoundError") return `No ${what} was found.`;
  return `Your ${what} could not be started${error && error.message ? `: ${error.message}` : "."}`;
}

export class Publisher {
  constructor(media) {
    this.media = media;
    this.room = media.room;
    this.local = {}; // kind -> MediaStreamTrack we send
    this.muted = { camera: false, microphone: false };
    this.deviceIds = { camera: null, microphone: null }; // chosen in Devices
    this.trackIds = {}; // kind -> track_id, from the last publish ack
    this.transport = null; // the transport we negotiate on
    this.old = null; // the one it replaces, closed once the new one connects
    this.queued = false;
    this.lock = Promise.resolve();
    this.wantRestart = false;
    this.failures = 0;
    this.retry = null;
    this.capturing = false; // a getUserMedia / getDisplayMedia prompt is open
  }

  get active() {
    return KINDS.some((kind) => this.local[kind]);
  }

  /** Runs one sync after those queued, coalescing requests made meanwhile. */
  schedule(restart = false) {
    if (restart) this.wantRestart = true;
    if (this.queued) return this.lock;
    this.queued = true;
    const run = this.lock.then(async () => {
      this.queued = false;
      try {
        await this.sync();
      } catch (error) {
        // A browser refusal (e.g. an SDP it cannot apply): start again on a new transport.
        console.warn("Publishing failed:", error);
        this.again(2000, true);
      }
    });
    this.lock = run;
    return run;
  }

  again(ms, restart = false) {
    clearTimeout(this.retry);
    this.failures += 1;
    if (this.failures > MAX_FAILURES) {
      say(messages, "Your camera and microphone could not be sent. Try Stop presenting and start again.", "error");
      return;
    }
    this.retry = setTimeout(() => this.schedule(restart), ms);
  }

  // --- what the buttons do ------------------------------------------------------------------

  /** Camera or Microphone: starts it, then toggles its mute. */
  async toggle(kind) {
    if (this.capturing) return; // a device prompt is open: one at a time
    if (!this.local[kind]) {
      this.capturing = true;
      const track = await this.capture(kind).finally(() => (this.capturing = false));
      if (!track) return;
      if (this.local[kind] || this.room.closed || !this.media.canPublish) {
        track.stop();
        return;
      }
      this.local[kind] = track;
      this.muted[kind] = false;
      this.media.render();
      this.schedule();
      return;
    }
    await this.setMuted(kind, !this.muted[kind]);
  }

  async capture(kind, deviceId = this.deviceIds[kind]) {
    const wanted = deviceId ? { deviceId: { exact: deviceId } } : true;
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        kind === "camera"
          ? { video: deviceId ? wanted : { width: { ideal: 1280 }, height: { ideal: 720 } } }
          : { audio: wanted },
      );
      const track = kind === "camera" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
      this.media.devicesChanged();
      return track;
    } catch (error) {
      say(messages, mediaError(kind, error), "error");
      return null;
    }
  }

  async setMuted(kind, muted) {
    const track = this.local[kind];
    if (!track) return;
    track.enabled = !muted;
    this.muted[kind] = muted;
    this.media.render();
    if (!this.trackIds[kind]) return; // not published yet: the publish ack brings it in line
    const ack = await this.room.call("media:mute", { kind, muted });
    if (ack.ok) this.media.trackChanged(ack.data);
  }

  async toggleScreen() {
    if (this.local.screen) {
      this.stopScreen();
      return;
    }
    if (this.capturing) return;
    this.capturing = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      // NotAllowedError: the presenter cancelled the picker; nothing to say.
      if (error && error.name !== "NotAllowedError") say(messages, mediaError("screen", error), "error");
      return;
    } finally {
      this.capturing = false;
    }
    const track = stream.getVideoTracks()[0];
    if (this.local.screen || this.room.closed || !this.media.canPublish) {
      track.stop();
      return;
    }
    track.contentHint = "detail";
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener("ended", () => {
      if (this.local.screen === track) this.stopScreen();
    });
    this.local.screen = track;
    this.media.render();
    this.schedule();
  }

  stopScreen() {
    const track = this.local.screen;
    if (!track) return;
    delete this.local.screen;
    track.stop();
    this.media.render();
    this.schedule();
  }

  /** Devices: another camera or microphone replaces the sender's track (no new offer). */
  async useDevice(kind, deviceId) {
    this.deviceIds[kind] = deviceId || null;
    const current = this.local[kind];
    if (!current || current.getSettings().deviceId === deviceId) return;
    const track = await this.capture(kind, deviceId);
    if (!track || this.local[kind] !== current) {
      if (track) track.stop();
      return;
    }
    track.enabled = !this.muted[kind];
    for (const t of [this.transport, this.old]) {
      const tx = t && t.tx[kind];
      if (tx && !t.closed) await tx.sender.replaceTrack(track);
    }
    this.local[kind] = track;
    current.stop();
    this.media.render();
  }

  /** Stop presenting: `media:unpublish`, and every device let go. */
  async stop() {
    this.failures = 0;
    this.release();
    this.media.render();
    await this.schedule();
  }

  /** Forgets the local tracks (their devices are let go). */
  release() {
    for (const kind of KINDS) {
      if (this.local[kind]) this.local[kind].stop();
    }
    this.local = {};
    this.muted = { camera: false, microphone: false };
  }

  // --- server notices -------------------------------------------------------------------------

  /** `media:unpublished`: demoted, or another tab of ours took over. */
  unpublished({ reason }) {
    this.release();
    this.dropTransports();
    this.trackIds = {};
    this.media.render();
    say(
      messages,
      reason === "replaced"
        ? "You are presenting from another tab or window now."
        : "You are no longer a presenter: your camera, microphone and screen were stopped.",
    );
  }

  /** `media:restart` for our publish transport, or ICE gave up, or the browser is back online. */
  restart(transportId = null) {
    if (transportId && (!this.transport || this.transport.id !== transportId)) return;
    if (this.transport) this.schedule(true);
  }

  /** After a Socket.IO reconnect the server has no transport of ours: publish again. */
  reconnected() {
    this.dropTransports();
    this.trackIds = {};
    this.failures = 0;
    if (this.active) this.schedule();
  }

  dropTransports() {
    for (const t of [this.transport, this.old]) if (t) t.close();
    this.transport = null;
    this.old = null;
    this.wantRestart = false;
  }

  // --- negotiation ----------------------------------------------------------------------------

  async sync() {
    if (!this.room.connection.connected || this.room.closed) return;
    const kinds = KINDS.filter((kind) => this.local[kind]);
    if (!kinds.length) {
      this.wantRestart = false;
      if (this.transport || this.old) {
        this.dropTransports();
        this.trackIds = {};
        await this.room.call("media:unpublish");
        this.media.render();
      }
      return;
    }
    if (!this.transport || this.wantRestart || this.transport.closed) {
      await this.publishNew();
      return;
    }
    const t = this.transport;
    if (this.align(t) || t.dirty) await this.offer(t, false);
  }

  /** Makes the transceivers of ``t`` send the local tracks; true when an offer is needed. */
  align(t) {
    let changed = false;
    for (const kind of KINDS) {
      const track = this.local[kind];
      const tx = t.tx[kind];
      if (track && !tx) {
        t.tx[kind] = t.pc.addTransceiver(track, { direction: "sendonly" });
        changed = true;
      } else if (!track && tx) {
        // Not stop(): the SFU's answer would keep the stopped mid in its BUNDLE group.
        tx.direction = "inactive";
        tx.sender.replaceTrack(null);
        delete t.tx[kind];
        changed = true;
      } else if (track && tx.sender.track !== track) {
        tx.sender.replaceTrack(track);
      }
    }
    return changed;
  }

  async publishNew() {
    const restart = Boolean(this.transport) && this.wantRestart;
    const t = new Transport(this.room, "publish", {
      failed: (failed) => failed === this.transport && this.schedule(true),
      connected: (connected) => this.connected(connected),
    });
    const problem = await t.open();
    if (problem) {
      t.close();
      this.problem(problem);
      return;
    }
    this.align(t);
    if (await this.offer(t, restart)) {
      this.wantRestart = false;
      if (this.transport && this.transport !== t) {
        if (this.old) this.old.close();
        this.old = this.transport;
        // The server closed it: it goes once the new one connects, or soon in any case.
        const old = this.old;
        setTimeout(() => old.close(), 10_000);
      }
      this.transport = t;
    } else {
      t.close();
    }
  }

  connected(t) {
    if (t === this.transport && this.old) {
      this.old.close();
      this.old = null;
    }
    this.media.render();
  }

  /** One offer on ``t``; true when the server answered and the answer is applied. */
  async offer(t, restart) {
    const pc = t.pc;
    await pc.setLocalDescription(await pc.createOffer());
    const tracks = KINDS.filter((kind) => t.tx[kind]).map((kind) => ({
      mid: t.tx[kind].mid,
      kind,
    }));
    const ack = await this.room.call("media:publish", {
      sdp: pc.localDescription.sdp,
      tracks,
      restart,
    });
    if (!ack.ok) {
      t.dirty = true;
      if (pc.signalingState === "have-local-offer") {
        await pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      }
      this.problem(ack.problem);
      return false;
    }
    t.name(ack.data.transport_id);
    await pc.setRemoteDescription({ type: "answer", sdp: ack.data.sdp });
    t.dirty = false;
    this.failures = 0;
    this.trackIds = {};
    for (const track of ack.data.tracks) {
      this.trackIds[track.kind] = track.track_id;
      this.media.trackChanged(track);
      // A mute made while the offer was on its way, or before a restart: tell the room.
      const muted = Boolean(this.muted[track.kind]);
      if (track.kind !== "screen" && track.muted !== muted) {
        this.room.call("media:mute", { kind: track.kind, muted }).then((m) => {
          if (m.ok) this.media.trackChanged(m.data);
        });
      }
    }
    this.media.render();
    return true;
  }

  problem(problem) {
    const code = problem.code;
    if (code === "offline") return; // the reconnect publishes again
    if (code === "publish_forbidden") {
      this.release();
      this.dropTransports();
      this.media.render();
      say(messages, "Only the host and presenters can present.", "error");
      return;
    }
    if (code === "removed_from_session" || code === "live_session_not_live") return;
    if (code === "media_unavailable") {
      const seconds = Number(problem.retry_after) || 2;
      say(messages, `Video is busy right now; trying again in ${seconds} s.`);
      this.again(seconds * 1000, this.wantRestart);
      return;
    }
    if (code in RETRY) {
      this.again(RETRY[code], this.wantRestart);
      return;
    }
    // sdp_invalid & co.: the server may have closed the transport; start on a new one.
    console.warn("media:publish refused:", problem);
    this.again(2000, true);
  }
}
