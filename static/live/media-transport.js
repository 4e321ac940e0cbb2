// One media transport of the live room (docs/live-protocol.md, "Media (SFU) signalling"): an
// RTCPeerConnection to an SFU worker, either publish (we offer) or subscribe (the server
// offers). It is made with the ICE servers `media:ice` answers (asked before every new
// connection: TURN credentials are not cached), trickles its candidates with `media:candidate`
// once the server has named it, tells its owner when ICE has failed (or stayed disconnected
// for 5 s) and when it has connected, and measures itself for the quality indicator.

import { newId } from "./common.js";

const DISCONNECTED_GRACE = 5000;
const RATE_LIMIT_RETRY = 1000;

/** good / fair / poor from RTT (s), loss (0-1) and jitter (s); unknown without figures. */
export function grade({ rtt, loss, jitter }) {
  if (rtt === null && loss === null && jitter === null) return "unknown";
  if (loss > 0.05 || rtt > 0.4 || jitter > 0.05) return "poor";
  if (loss > 0.01 || rtt > 0.15 || jitter > 0.02) return "fair";
  return "good";
}

export class Transport {
  /**
   * ``hooks.failed(transport, reason)``: ICE failed (or stayed disconnected): restart.
   * ``hooks.connected(transport)``: media flows (DTLS up).
   */
  constructor(room, direction, hooks) {
    this.room = room;
    this.direction = direction; // "publish" | "subscribe"
    this.hooks = hooks;
    this.key = newId(direction); // ours, until the server names it
    this.id = null; // the server's transport_id
    this.pc = null;
    this.queue = []; // candidates gathered before the server named the transport
    this.closed = false;
    this.failed = false;
    this.everConnected = false;
    this.grace = null;
    this.previous = null; // counters for the loss over the last interval
    this.tx = {}; // publish: kind -> RTCRtpTransceiver sending it
    this.subscribed = []; // subscribe: [{track_id, mid}] of the last offer
    this.revision = 0;
  }

  /** Asks media:ice and creates the connection; resolves to null, or the problem. */
  async open() {
    const ack = await this.room.call("media:ice");
    if (!ack.ok) return ack.problem;
    if (this.closed) return { code: "closed", detail: "Closed." };
    // max-bundle: one ICE transport from the first offer on, so a handful of candidates only
    // (each one is an event against the socket's rate limit).
    const pc = new RTCPeerConnection({
      iceServers: ack.data.ice_servers,
      bundlePolicy: "max-bundle",
    });
    this.pc = pc;
    pc.addEventListener("icecandidate", (event) => {
      const c = event.candidate;
      // null: the end of candidates. An empty one ends a generation; null follows it.
      if (c && !c.candidate) return;
      const init = c
        ? {
            candidate: c.candidate,
            sdpMid: c.sdpMid,
            sdpMLineIndex: c.sdpMLineIndex,
            usernameFragment: c.usernameFragment,
          }
        : null;
      if (this.id) this.sendCandidate(init);
      else this.queue.push(init);
    });
    pc.addEventListener("iceconnectionstatechange", () => this.watch());
    pc.addEventListener("connectionstatechange", () => {
      const state = pc.connectionState;
      if (state === "connected" && !this.closed) {
        this.everConnected = true;
        this.hooks.connected(this);
      } else if (state === "failed") {
        this.fail("connection_failed");
      }
    });
    return null;
  }

  /** The server named the transport: the candidates gathered so far go out. */
  name(id) {
    if (this.id === id) return;
    this.id = id;
    const queued = this.queue;
    this.queue = [];
    for (const init of queued) this.sendCandidate(init);
  }

  async sendCandidate(init) {
    for (;;) {
      if (this.closed) return;
      const ack = await this.room.call("media:candidate", {
        transport_id: this.id,
        candidate: init,
      });
      // One answered rate_limited goes again after a second; transport_not_found: a late
      // candidate of a replaced transport, ignored; offline: the reconnect starts afresh.
      if (ack.ok || ack.problem.code !== "rate_limited") return;
      await new Promise((resolve) => setTimeout(resolve, RATE_LIMIT_RETRY));
    }
  }

  /** A candidate the server sent (it usually has them all in its SDP). */
  async addRemoteCandidate(candidate) {
    if (!this.pc || this.closed) return;
    try {
      await this.pc.addIceCandidate(candidate || null);
    } catch {
      // Not applicable to the current description (e.g. before it): the SDP has them.
    }
  }

  watch() {
    if (!this.pc || this.closed) return;
    const state = this.pc.iceConnectionState;
    clearTimeout(this.grace);
    this.grace = null;
    if (state === "failed") this.fail("ice_failed");
    else if (state === "disconnected") {
      this.grace = setTimeout(() => {
        if (!this.closed && this.pc.iceConnectionState === "disconnected") {
          this.fail("ice_disconnected");
        }
      }, DISCONNECTED_GRACE);
    }
  }

  fail(reason) {
    if (this.closed || this.failed) return;
    this.failed = true;
    this.hooks.failed(this, reason);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.grace);
    if (this.pc) this.pc.close();
  }

  /** RTT, loss and jitter now: ``{rtt, loss, jitter, level}`` (null figures when unknown). */
  async measure() {
    if (!this.pc || this.closed) return null;
    let report;
    try {
      report = await this.pc.getStats();
    } catch {
      return null;
    }
    let pairId = null;
    let rtt = null;
    let jitter = null;
    let lost = 0;
    let received = 0;
    let fraction = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      if (s.type === "candidate-pair" && (s.id === pairId || (!pairId && s.nominated))) {
        if (typeof s.currentRoundTripTime === "number") rtt = s.currentRoundTripTime;
      } else if (s.type === "inbound-rtp") {
        lost += Math.max(0, s.packetsLost || 0);
        received += s.packetsReceived || 0;
        if (typeof s.jitter === "number") jitter = Math.max(jitter || 0, s.jitter);
      } else if (s.type === "remote-inbound-rtp") {
        // What the SFU reports of our sending (publish).
        if (typeof s.fractionLost === "number") fraction = Math.max(fraction || 0, s.fractionLost);
        if (typeof s.jitter === "number") jitter = Math.max(jitter || 0, s.jitter);
        if (rtt === null && typeof s.roundTripTime === "number") rtt = s.roundTripTime;
      }
    });
    let loss = fraction;
    if (this.direction === "subscribe") {
      const before = this.previous || { lost: 0, received: 0 };
      const dl = lost - before.lost;
      const dr = received - before.received;
      this.previous = { lost, received };
      loss = dl + dr > 0 ? Math.max(0, dl) / (dl + dr) : null;
    }
    const figures = { rtt, loss, jitter };
    return { ...figures, level: this.pc.connectionState === "connected" ? grade(figures) : "unknown" };
  }
}
