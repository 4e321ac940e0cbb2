// The stage: the presenters' cameras and screen shares (a screen share is shown big, else the
// active speaker's camera), an avatar with the name instead of a muted camera, an audio
// element per microphone (with a "Click to enable sound" button when the browser refuses to
// autoplay), and a connection quality line per transport (good / fair / poor, in words).
//
// Test hooks: `.stage-tile` elements carry data-track-id, data-kind, data-user-id,
// data-muted, data-local, data-speaking and data-state ("waiting" | "playing"); #stage
// carries data-publish-transport and data-subscribe-transport (the server's ids).

import { el } from "../ui.js";
import { $ } from "./common.js";

const LEVEL_TEXT = { good: "good", fair: "fair", poor: "poor", unknown: "connecting" };
const QUALITY_INTERVAL = 2000;

function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return (words.slice(0, 2).map((w) => w[0]).join("") || "?").toUpperCase();
}

function figures(q) {
  const parts = [];
  if (q.rtt !== null) parts.push(`${Math.round(q.rtt * 1000)} ms round trip`);
  if (q.loss !== null) parts.push(`${(q.loss * 100).toFixed(1)}% loss`);
  if (q.jitter !== null) parts.push(`${Math.round(q.jitter * 1000)} ms jitter`);
  return parts.join(", ");
}

export class Stage {
  constructor(media) {
    this.media = media;
    this.tiles = new Map(); // key -> figure
    this.audio = new Map(); // track_id -> audio element
    this.blocked = false; // the browser refused to start sound without a click
    this.timer = null;
  }

  bind() {
    $("media-sound").addEventListener("click", () => {
      this.blocked = false;
      $("media-sound").hidden = true;
      for (const audio of this.audio.values()) this.play(audio);
    });
    this.timer = setInterval(() => this.measure(), QUALITY_INTERVAL);
  }

  close() {
    clearInterval(this.timer);
    for (const audio of this.audio.values()) audio.srcObject = null;
  }

  /** What is on stage: one tile per camera and screen (ours from the local tracks). */
  items() {
    const media = this.media;
    const me = media.room.you && media.room.you.user_id;
    const pub = media.publisher;
    const items = [];
    for (const t of media.tracks.values()) {
      if (t.kind === "microphone") continue;
      const own = t.user_id === me;
      if (own && !pub.local[t.kind]) continue; // published from another tab of ours
      const got = own ? null : media.subscriber.trackOf(t.track_id);
      items.push({
        key: t.track_id,
        kind: t.kind,
        userId: t.user_id,
        muted: own ? Boolean(pub.muted[t.kind]) : t.muted,
        track: own ? pub.local[t.kind] : got && got.track,
        local: own,
      });
    }
    // Our own tracks before the server has them listed (the offer is on its way).
    for (const kind of ["camera", "screen"]) {
      const track = pub.local[kind];
      if (track && !items.some((i) => i.local && i.kind === kind)) {
        items.push({ key: `local-${kind}`, kind, userId: me, muted: Boolean(pub.muted[kind]), track, local: true });
      }
    }
    // Someone heard but not seen (a microphone, no camera): their name on a tile.
    for (const t of media.tracks.values()) {
      if (t.kind !== "microphone" || items.some((i) => i.kind === "camera" && i.userId === t.user_id)) continue;
      const own = t.user_id === me;
      if (own && !pub.local.microphone) continue;
      items.push({
        key: `voice-${t.user_id}`,
        kind: "microphone",
        userId: t.user_id,
        muted: own ? Boolean(pub.muted.microphone) : t.muted,
        track: null,
        local: own,
      });
    }
    return items;
  }

  render() {
    const media = this.media;
    const speaker = media.speaker && media.speaker.user_id;
    const items = this.items();
    const rank = (i) => {
      const p = media.room.people.participants.get(i.userId);
      return p && p.role === "host" ? 0 : 1;
    };
    // Big: a screen share (another's before ours), else the speaker's camera, else the host's.
    const cameras = items.filter((i) => i.kind === "camera").sort((a, b) => rank(a) - rank(b));
    const voices = items.filter((i) => i.kind === "microphone");
    const main =
      items.find((i) => i.kind === "screen" && !i.local) ||
      items.find((i) => i.kind === "screen") ||
      cameras.find((i) => i.userId === speaker && !i.muted) ||
      cameras.find((i) => !i.local) ||
      cameras[0] ||
      voices.find((i) => i.userId === speaker) ||
      voices[0];
    const keep = new Set();
    const strip = [];
    for (const item of items) {
      keep.add(item.key);
      const tile = this.tile(item, speaker);
      if (item === main) {
        if (tile.parentNode !== $("stage-main")) $("stage-main").replaceChildren(tile);
      } else strip.push(tile);
    }
    if (!main) $("stage-main").replaceChildren();
    const stripBox = $("stage-strip");
    strip.forEach((tile, n) => {
      if (stripBox.children[n] !== tile) stripBox.insertBefore(tile, stripBox.children[n] || null);
    });
    for (const [key, tile] of this.tiles) {
      if (!keep.has(key)) {
        tile.remove();
        this.tiles.delete(key);
      }
    }
    $("stage-empty").hidden = items.length > 0;
    $("stage").hidden = items.length === 0; // an empty stage takes one line
    $("stage").classList.toggle("with-strip", Boolean(main) && strip.length > 0);
    $("stage").dataset.tiles = String(items.length);
    this.renderAudio();
    this.renderIds();
  }

  tile(item, speaker) {
    let tile = this.tiles.get(item.key);
    const name = this.media.room.people.nameOf(item.userId);
    if (!tile) {
      tile = el("figure", null, "stage-tile");
      const video = el("video", null, "stage-video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true; // sound comes from the audio elements
      video.addEventListener("playing", () => (tile.dataset.state = "playing"));
      const avatar = el("div", null, "stage-avatar");
      avatar.setAttribute("aria-hidden", "true");
      avatar.append(el("span", "", "stage-initials"));
      const caption = el("figcaption", null, "stage-caption");
      caption.append(el("span", "", "stage-name"), el("span", "", "badge stage-badge"));
      tile.append(video, avatar, caption);
      tile.dataset.state = "waiting";
      this.tiles.set(item.key, tile);
    }
    const video = tile.querySelector("video");
    if (tile.track !== item.track) {
      tile.track = item.track || null;
      tile.dataset.state = "waiting";
      video.srcObject = item.track ? new MediaStream([item.track]) : null;
      if (item.track) video.play().catch(() => {});
    }
    const voice = item.kind === "microphone";
    const speaking = Boolean(speaker) && item.userId === speaker && item.kind !== "screen";
    Object.assign(tile.dataset, {
      trackId: item.key,
      kind: item.kind,
      userId: item.userId || "",
      muted: String(item.muted),
      local: String(item.local),
      speaking: String(speaking),
    });
    tile.classList.toggle("speaking", speaking);
    tile.classList.toggle("self", item.local && item.kind === "camera");
    const who = item.local ? "You" : name;
    const what = item.kind === "screen" ? `${who}: screen` : who;
    const off = voice ? ", microphone off" : ", camera off";
    tile.setAttribute("aria-label", `${what}${item.muted ? off : ""}${speaking ? ", speaking" : ""}`);
    video.hidden = item.muted || voice;
    tile.querySelector(".stage-avatar").hidden = !item.muted && !voice && Boolean(item.track);
    tile.querySelector(".stage-initials").textContent = initials(item.local ? this.media.room.you.name : name);
    tile.querySelector(".stage-name").textContent = what;
    let badge = "";
    if (item.muted) badge = voice ? "Microphone off" : "Camera off";
    else if (speaking) badge = "Speaking";
    else if (voice) badge = "Microphone only";
    else if (!item.track) badge = "Connecting…";
    const badgeNode = tile.querySelector(".stage-badge");
    badgeNode.textContent = badge;
    badgeNode.hidden = !badge;
    return tile;
  }

  /** One audio element per microphone we receive. */
  renderAudio() {
    const media = this.media;
    const me = media.room.you && media.room.you.user_id;
    const box = $("media-audio");
    const keep = new Set();
    for (const t of media.tracks.values()) {
      if (t.kind !== "microphone" || t.user_id === me) continue;
      const got = media.subscriber.trackOf(t.track_id);
      if (!got) continue;
      keep.add(t.track_id);
      let audio = this.audio.get(t.track_id);
      if (!audio) {
        audio = el("audio");
        audio.autoplay = true;
        audio.dataset.trackId = t.track_id;
        audio.dataset.userId = t.user_id;
        this.audio.set(t.track_id, audio);
        box.append(audio);
      }
      if (audio.track !== got.track) {
        audio.track = got.track;
        audio.srcObject = new MediaStream([got.track]);
        this.play(audio);
      }
    }
    for (const [id, audio] of this.audio) {
      if (!keep.has(id)) {
        audio.srcObject = null;
        audio.remove();
        this.audio.delete(id);
      }
    }
  }

  play(audio) {
    audio.play().then(
      () => (audio.dataset.state = "playing"),
      (error) => {
        if (error && error.name === "NotAllowedError") {
          audio.dataset.state = "blocked";
          this.blocked = true;
          $("media-sound").hidden = false;
        }
      },
    );
  }

  renderIds() {
    const { publisher, subscriber } = this.media;
    const stage = $("stage");
    const pub = publisher.transport && publisher.transport.id;
    const sub = subscriber.transport && subscriber.transport.id;
    if (pub) stage.dataset.publishTransport = pub;
    else delete stage.dataset.publishTransport;
    if (sub) stage.dataset.subscribeTransport = sub;
    else delete stage.dataset.subscribeTransport;
  }

  /** The quality line of each open transport. */
  async measure() {
    const { publisher, subscriber } = this.media;
    const lines = [
      ["media-quality-pub", "Sending", publisher.transport],
      ["media-quality-sub", "Receiving", subscriber.transport],
    ];
    for (const [id, label, transport] of lines) {
      const node = $(id);
      const q = transport ? await transport.measure() : null;
      node.hidden = !q;
      if (!q) continue;
      node.dataset.quality = q.level;
      const more = figures(q);
      node.textContent = `${label}: ${LEVEL_TEXT[q.level]}${more ? ` (${more})` : ""}`;
    }
  }
}
