// The live whiteboard's op log: ops applied in seq order to the Board (static/whiteboard.js),
// ops that arrive ahead of a gap held until the gap is filled from wb:history, and our own ops
// kept (and drawn as pending) until the server has stored them.

import { say } from "../ui.js";
import { Board } from "../whiteboard.js";
import { RETRYABLE, messages, newId } from "./common.js";
import { Replay } from "./connection.js";

// Ops that leave an item on the board: shown as pending until stored.
export const DRAWN = ["stroke", "shape", "text"];

export class BoardLog {
  constructor(room) {
    this.room = room;
    this.board = new Board();
    this.seq = 0;
    this.waiting = new Map(); // seq -> op received ahead of a gap
    this.pending = new Map(); // client_op_id -> op (not yet acknowledged)
    this.replay = new Replay(() => this.historyPage());
    this.view = null; // the BoardView that shows it (static/live/board-view.js)
  }

  listen(socket) {
    socket.on("wb:op", (op) => this.accept(op, true));
  }

  /** The snapshot and the ops after it, from the first join. */
  load(wb) {
    this.board.load(wb.snapshot.pages);
    this.seq = wb.snapshot.seq;
    // Broadcasts that came before this state and are in the snapshot already.
    for (const seq of [...this.waiting.keys()]) if (seq <= this.seq) this.waiting.delete(seq);
    for (const op of wb.ops) this.accept(op, false);
  }

  /** An op, stored by the server: ``live`` when it came as a broadcast. */
  accept(op, live) {
    this.pending.delete(op.client_op_id); // ours, now stored (ids are random: no clash)
    if (op.seq <= this.seq || this.waiting.has(op.seq)) return;
    this.waiting.set(op.seq, op);
    let applied = null;
    while (this.waiting.has(this.seq + 1)) {
      const next = this.waiting.get(this.seq + 1);
      this.waiting.delete(this.seq + 1);
      this.seq = next.seq;
      this.board.apply(next);
      applied = next;
    }
    if (this.waiting.size && this.room.synced) this.fetch();
    if (!applied) return;
    this.view.applied(applied, live);
  }

  /** Everything after the highest contiguous seq, page by page (the replay rule). */
  fetch() {
    return this.replay.run();
  }

  async historyPage() {
    const ack = await this.room.call("wb:history", { after_seq: this.seq, limit: 500 });
    if (!ack.ok) return null;
    const before = this.seq;
    for (const op of ack.data.ops) this.accept(op, false);
    return { more: ack.data.more, progress: this.seq !== before };
  }

  /** What was not acknowledged goes again (after a sync). */
  resend() {
    for (const op of [...this.pending.values()]) this.deliver(op);
  }

  send(kind, data, page) {
    const op = { client_op_id: newId("w"), page, kind, data };
    if (DRAWN.includes(kind)) {
      op.user_id = this.room.you.user_id;
      this.pending.set(op.client_op_id, op);
      this.view.schedule();
    }
    this.deliver(op);
  }

  async deliver(op) {
    const { client_op_id: clientOpId, page, kind, data } = op;
    const ack = await this.room.call("wb:op", { client_op_id: clientOpId, page, kind, data });
    if (ack.ok) {
      this.accept(ack.data, false);
      return;
    }
    if (RETRYABLE.has(ack.problem.code)) {
      this.pending.set(clientOpId, op); // resent after the next sync
      return;
    }
    this.pending.delete(clientOpId);
    this.view.schedule();
    say(messages, `The whiteboard did not take that: ${ack.problem.detail}`, "error");
  }
}
