// The live room's people: the participants (host, presenters, attendees) with their hands and
// mutes, one's own hand, and the host's moderation (mute, role, remove, let back in).

import { button, el, say } from "../ui.js";
import { $, messages } from "./common.js";

const ROLE = { host: "Host", presenter: "Presenter", attendee: "Attendee" };

export class People {
  constructor(room) {
    this.room = room;
    this.participants = new Map();
    this.removed = new Map(); // the host's list of removed people: user_id -> {user_id, name}
    this.names = new Map(); // user_id -> name, kept after people leave
    // While a `join` is in flight: the changes received meanwhile, applied again on top of its
    // list (which may have been read before them). In order, so the last word per user wins.
    this.inFlight = null;
  }

  listen(socket) {
    const on = (event, apply) =>
      socket.on(event, (data) => {
        apply(data);
        if (this.inFlight) this.inFlight.push(() => apply(data));
      });
    // Joins and leaves come in batches, one entry per user (its latest state): apply, draw once.
    on("presence:changed", ({ joined, left }) => {
      for (const id of left) this.participants.delete(id);
      for (const p of joined) this.upsert(p, false);
      this.render();
    });
    on("participant:changed", (p) => this.upsert(p));
    on("hand:changed", ({ user_id: id, hand_raised_at: at }) => {
      const p = this.participants.get(id);
      if (p) this.upsert({ ...p, hand_raised_at: at });
    });
  }

  /** A `join` is about to be asked: remember what arrives until its answer is loaded. */
  joining() {
    this.inFlight = [];
  }

  bind() {
    $("hand-toggle").addEventListener("click", async () => {
      const me = this.participants.get(this.room.you.user_id);
      const raised = Boolean(me && me.hand_raised_at);
      const ack = await this.room.call(raised ? "hand:lower" : "hand:raise");
      if (ack.ok && me) this.upsert({ ...me, hand_raised_at: ack.data.hand_raised_at });
      else if (!ack.ok) say(messages, `That did not work: ${ack.problem.detail}`, "error");
    });
    $("hands-lower-all").addEventListener("click", async () => {
      const ack = await this.room.call("hand:lower_all");
      if (!ack.ok) say(messages, `That did not work: ${ack.problem.detail}`, "error");
    });
  }

  /** Who is here (and, for the host, who was removed), from a join. */
  load(state) {
    this.participants.clear();
    for (const p of state.participants) this.participants.set(p.user_id, p);
    this.participants.set(state.you.user_id, state.you);
    for (const p of this.participants.values()) this.names.set(p.user_id, p.name);
    this.removed = new Map((state.removed || []).map((r) => [r.user_id, r]));
    const meanwhile = this.inFlight || [];
    this.inFlight = null;
    for (const apply of meanwhile) apply();
  }

  /** A user's name: from the people seen in the room, else the name a message carries. */
  nameOf(userId, author = null) {
    const you = this.room.you;
    if (you && userId === you.user_id) return `${you.name} (you)`;
    return this.names.get(userId) || author || "A former participant";
  }

  upsert(p, redraw = true) {
    this.participants.set(p.user_id, p);
    this.names.set(p.user_id, p.name);
    this.room.chat.renameAuthor(p.user_id);
    if (this.room.you && p.user_id === this.room.you.user_id) {
      this.room.you = p;
      this.room.renderRole();
    }
    if (redraw) this.render();
  }

  render() {
    const you = this.room.you;
    const list = $("people-list");
    const rank = { host: 0, presenter: 1, attendee: 2 };
    const people = [...this.participants.values()].sort(
      (a, b) =>
        rank[a.role] - rank[b.role] ||
        (a.hand_raised_at ? 0 : 1) - (b.hand_raised_at ? 0 : 1) ||
        String(a.hand_raised_at).localeCompare(String(b.hand_raised_at)) ||
        a.name.localeCompare(b.name),
    );
    const host = you && you.role === "host";
    list.replaceChildren(
      ...people.map((p) => {
        const li = el("li", null, "person");
        li.dataset.userId = p.user_id;
        li.dataset.role = p.role;
        const line = el("p", null, "person-line");
        line.append(el("span", p.name, "person-name"));
        if (you && p.user_id === you.user_id) line.append(el("span", " (you)", "muted"));
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
    const me = you && this.participants.get(you.user_id);
    const raised = Boolean(me && me.hand_raised_at);
    const toggle = $("hand-toggle");
    toggle.textContent = raised ? "Lower hand" : "Raise hand";
    toggle.setAttribute("aria-pressed", String(raised));
  }

  /** The host's buttons for one participant. */
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
    const ack = await this.room.call(event, data);
    if (!ack.ok) say(messages, `That did not work: ${ack.problem.detail}`, "error");
    else if (event === "participant:remove") {
      const p = this.participants.get(data.user_id);
      this.removed.set(data.user_id, { user_id: data.user_id, name: p ? p.name : "Someone" });
      this.participants.delete(data.user_id);
      this.render();
    } else if (event === "participant:readmit") {
      const r = this.removed.get(data.user_id);
      this.removed.delete(data.user_id);
      this.render();
      if (r) say(messages, `${r.name} may join again.`, "success");
    }
  }
}
