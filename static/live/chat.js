// The live room's chat: messages in seq order (none lost or doubled across reconnects), the
// replay of chat:history after the highest contiguous seq, and sends with a client id that
// stay pending (shown as "sending…") until the server has stored them.

import { el, say } from "../ui.js";
import { $, RETRYABLE, messages, newId } from "./common.js";
import { Replay } from "./connection.js";

const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

export class Chat {
  constructor(room) {
    this.room = room;
    this.held = new Map(); // seq -> message
    this.seq = 0; // highest seq held with nothing missing below it (after the first join)
    this.pending = new Map(); // client_id -> {body, node}
    this.replay = new Replay(() => this.historyPage());
  }

  listen(socket) {
    socket.on("chat:message", (m) => this.accept(m));
  }

  bind() {
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("chat-input");
      const body = input.value.trim();
      if (!body) return;
      input.value = "";
      this.send(body);
      input.focus();
    });
  }

  /** The tail that comes with the first join. */
  loadTail(state) {
    this.seq = state.chat.length ? state.chat[0].seq - 1 : state.last_seq;
    for (const m of state.chat) this.accept(m);
  }

  /** Input and send button: usable when connected and not muted. */
  enable(usable) {
    const you = this.room.you;
    $("chat-input").disabled = !usable || Boolean(you && you.chat_muted);
    $("chat-send").disabled = $("chat-input").disabled;
  }

  /** The note to a muted participant, and the input to match. */
  renderMuted() {
    const you = this.room.you;
    const note = $("chat-note");
    note.hidden = !you.chat_muted;
    note.textContent = you.chat_muted ? "The host has muted you in chat." : "";
    this.enable(this.room.connection.connected);
  }

  accept(m) {
    const you = this.room.you;
    const pending = this.pending.get(m.client_id);
    if (pending && you && m.user_id === you.user_id) {
      pending.node.remove();
      this.pending.delete(m.client_id);
    }
    if (this.held.has(m.seq)) return;
    this.held.set(m.seq, m);
    this.insert(m);
    while (this.held.has(this.seq + 1)) this.seq += 1;
    if (this.room.synced && m.seq > this.seq + 1) this.fetch();
  }

  insert(m) {
    const list = $("chat-list");
    const li = el("li", null, "chat-message");
    li.dataset.seq = String(m.seq);
    li.dataset.userId = m.user_id;
    const head = el("p", null, "chat-head");
    const who = el("span", this.room.people.nameOf(m.user_id, m.author), "chat-name");
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

  /** The name on someone's messages, after it changed. */
  renameAuthor(userId) {
    for (const node of document.querySelectorAll(`.chat-name[data-user-id="${userId}"]`)) {
      node.textContent = this.room.people.nameOf(userId);
    }
  }

  /** Everything after the highest contiguous seq, page by page (the replay rule). */
  fetch() {
    return this.replay.run();
  }

  async historyPage() {
    const ack = await this.room.call("chat:history", { after_seq: this.seq, limit: 200 });
    if (!ack.ok) return null;
    const before = this.seq;
    for (const m of ack.data.messages) this.accept(m);
    if (ack.data.messages.length) {
      this.seq = Math.max(this.seq, ack.data.messages.at(-1).seq);
    }
    return { more: ack.data.more, progress: this.seq !== before };
  }

  send(body) {
    const clientId = newId("c");
    const you = this.room.you;
    const node = el("li", null, "chat-message pending");
    node.append(el("p", `${you ? you.name : "You"} (you) · sending…`, "chat-head muted"));
    node.append(el("p", body, "chat-body"));
    $("chat-list").append(node);
    this.pending.set(clientId, { body, node });
    this.deliver(clientId);
  }

  async deliver(clientId) {
    const pending = this.pending.get(clientId);
    if (!pending || !this.room.connection.connected) return;
    const ack = await this.room.call("chat:send", { body: pending.body, client_id: clientId });
    if (ack.ok) {
      this.accept(ack.data);
    } else if (!RETRYABLE.has(ack.problem.code)) {
      pending.node.remove();
      this.pending.delete(clientId);
      say(messages, `Your message was not sent: ${ack.problem.detail}`, "error");
    }
    // Offline or no answer: it stays pending and is resent after the next sync.
  }

  /** What was not acknowledged goes again (after a sync). */
  resend() {
    for (const clientId of [...this.pending.keys()]) this.deliver(clientId);
  }
}
