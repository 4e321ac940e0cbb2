// Camera, microphone and screen share through Seminar's SFU (docs/live-protocol.md, "Media
// (SFU) signalling"). This module is the room's part: it follows the room's tracks
// (`media:tracks`, the highest `version` wins), the active speaker, and routes the server's
// media events to the parts:
//
//   media-publish.js    presenting (host and presenters): the publish transport, mute, devices
//   media-subscribe.js  receiving every track but one's own on one subscribe transport
//   media-transport.js  one RTCPeerConnection: media:ice, trickled candidates, ICE watch, stats
//   media-view.js       the stage: videos, avatars, the speaker, sound, connection quality
//
// After every join (connect, reconnect, room:resync) it reads `media:tracks`; after a
// reconnect it publishes and subscribes again on new transports.

import { $ } from "./common.js";
import { KINDS, Publisher } from "./media-publish.js";
import { Subscriber } from "./media-subscribe.js";
import { Stage } from "./media-view.js";

export class Media {
  constructor(room) {
    this.room = room;
    this.tracks = new Map(); // track_id -> track, the room's published tracks
    this.version = -1;
    this.speaker = null; // {user_id, track_id} | null
    this.available = true; // false when this server has no media signalling
    this.sid = null; // the socket of the last join: another one means a reconnect
    this.publisher = new Publisher(this);
    this.subscriber = new Subscriber(this);
    this.view = new Stage(this);
  }

  get canPublish() {
    const you = this.room.you;
    return Boolean(you) && (you.role === "host" || you.role === "presenter");
  }

  listen(socket) {
    socket.on("media:tracks", (data) => this.setTracks(data));
    socket.on("media:speaker", (data) => {
      this.speaker = data && data.user_id ? data : null;
      this.render();
    });
    socket.on("media:offer", (data) => this.subscriber.offer(data));
    socket.on("media:candidate", (data) => {
      for (const t of [
        this.publisher.transport,
        this.subscriber.transport,
        this.subscriber.pending,
      ]) {
        if (t && t.id === data.transport_id) t.addRemoteCandidate(data.candidate);
      }
    });
    socket.on("media:restart", (data) => {
      if (data.direction === "publish") this.publisher.restart(data.transport_id);
      else this.subscriber.restart(data.transport_id);
    });
    socket.on("media:unpublished", (data) => this.publisher.unpublished(data));
  }

  bind() {
    $("media-camera").addEventListener("click", () => this.publisher.toggle("camera"));
    $("media-mic").addEventListener("click", () => this.publisher.toggle("microphone"));
    $("media-screen").addEventListener("click", () => this.publisher.toggleScreen());
    $("media-stop").addEventListener("click", () => this.publisher.stop());
    $("media-devices").addEventListener("click", () => {
      const panel = $("media-device-panel");
      panel.hidden = !panel.hidden;
      $("media-devices").setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) this.devicesChanged();
    });
    $("media-camera-select").addEventListener("change", (e) =>
      this.publisher.useDevice("camera", e.target.value),
    );
    $("media-mic-select").addEventListener("change", (e) =>
      this.publisher.useDevice("microphone", e.target.value),
    );
    if (navigator.mediaDevices) {
      navigator.mediaDevices.addEventListener("devicechange", () => this.devicesChanged());
    }
    // Back online: the network path may have changed under both transports.
    window.addEventListener("online", () => {
      this.publisher.restart();
      this.subscriber.restart();
    });
    this.view.bind();
    this.render();
  }

  /** After every join: the room's tracks; after a reconnect also new transports. */
  async joined() {
    const sid = this.room.connection.socket.id;
    const reconnect = this.sid !== null && this.sid !== sid;
    this.sid = sid;
    if (reconnect) {
      // A new socket: the server closed the old one's transports and forgot its tracks.
      this.version = -1;
      this.publisher.reconnected();
      this.subscriber.reconnected();
    }
    if (!this.canPublish && this.publisher.active) this.publisher.stop();
    await this.fetchTracks();
    this.render();
  }

  async fetchTracks() {
    const ack = await this.room.call("media:tracks");
    if (ack.ok) {
      this.setTracks(ack.data);
    } else if (ack.problem.code === "unknown_event") {
      this.available = false;
      this.render();
    }
  }

  setTracks({ version, tracks }) {
    if (version <= this.version) return;
    this.version = version;
    this.tracks = new Map(tracks.map((t) => [t.track_id, t]));
    this.subscriber.schedule();
    this.render();
  }

  /** A track of ours as an ack gave it (its `muted`), until the next `media:tracks`. */
  trackChanged(track) {
    if (this.tracks.has(track.track_id)) {
      this.tracks.set(track.track_id, { ...this.tracks.get(track.track_id), ...track });
    }
  }

  devicesChanged() {
    if (!navigator.mediaDevices || $("media-device-panel").hidden) return;
    navigator.mediaDevices.enumerateDevices().then((devices) => {
      for (const [kind, id, type] of [
        ["camera", "media-camera-select", "videoinput"],
        ["microphone", "media-mic-select", "audioinput"],
      ]) {
        const select = $(id);
        const current = this.publisher.local[kind];
        const chosen =
          (current && current.getSettings().deviceId) || this.publisher.deviceIds[kind] || "";
        const options = devices
          .filter((d) => d.kind === type)
          .map((d, n) => {
            const option = document.createElement("option");
            option.value = d.deviceId;
            option.textContent = d.label || `${kind === "camera" ? "Camera" : "Microphone"} ${n + 1}`;
            option.selected = d.deviceId === chosen;
            return option;
          });
        select.replaceChildren(...options);
        select.disabled = options.length === 0;
      }
    });
  }

  /** The role changed (renderRole): controls for the host and presenters only. */
  renderRole() {
    if (!this.canPublish && this.publisher.active) this.publisher.stop();
    this.render();
  }

  render() {
    const pub = this.publisher;
    const can = this.canPublish && this.available && !this.room.closed;
    $("media-controls").hidden = !can;
    if (!can) {
      $("media-device-panel").hidden = true;
      $("media-devices").setAttribute("aria-expanded", "false");
    }
    const on = (kind) => Boolean(pub.local[kind]) && !pub.muted[kind];
    $("media-camera").setAttribute("aria-pressed", String(on("camera")));
    $("media-mic").setAttribute("aria-pressed", String(on("microphone")));
    $("media-screen").setAttribute("aria-pressed", String(Boolean(pub.local.screen)));
    $("media-stop").hidden = !KINDS.some((kind) => pub.local[kind]);
    $("media-unavailable").hidden = this.available;
    this.view.render();
  }

  close() {
    this.tracks = new Map();
    this.speaker = null;
    this.publisher.release();
    this.publisher.dropTransports();
    this.subscriber.close();
    this.view.close();
    this.render();
  }
}
