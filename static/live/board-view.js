// The live whiteboard on the page: the canvas shows one page (the confirmed board, our pending
// ops and the gesture being drawn), redrawn once per frame; the page buttons, "Add page" and
// "Follow the drawing". The canvas carries the test hooks data-page, data-items, data-total,
// data-wb-seq and data-pending.

import { HEIGHT, WIDTH, drawItem, paintPage } from "../whiteboard.js";
import { $ } from "./common.js";
import { DRAWN } from "./board-log.js";

export class BoardView {
  constructor(room, log) {
    this.room = room;
    this.log = log;
    log.view = this;
    this.page = 0;
    this.addedPage = 0; // the highest page added here (it has no op until someone draws)
    // The gesture in progress (static/live/board-tools.js): drawn as a preview; while it lasts
    // the view does not follow others to another page.
    this.drawing = null;
    this.canvas = $("wb-canvas");
    this.ctx = this.canvas.getContext("2d");
    this.base = document.createElement("canvas"); // the confirmed board of this page
    this.base.width = WIDTH;
    this.base.height = HEIGHT;
    this.baseDirty = true;
    this.frame = 0;
  }

  bind() {
    $("wb-prev").addEventListener("click", () => this.showPage(this.page - 1));
    $("wb-next").addEventListener("click", () => this.showPage(this.page + 1));
    $("wb-add-page").addEventListener("click", () => {
      this.addedPage = this.pageCount;
      this.showPage(this.addedPage);
    });
  }

  /** Drawing tools and "Add page" for the host and presenters, a note for the others. */
  setCanDraw(draw) {
    $("wb-tools").hidden = !draw;
    $("wb-add-page").hidden = !draw;
    $("wb-readonly").hidden = draw;
    this.canvas.classList.toggle("can-draw", draw);
  }

  get pageCount() {
    return Math.max(this.log.board.lastPage, this.addedPage, this.page) + 1;
  }

  showPage(page) {
    this.page = Math.max(0, Math.min(page, this.pageCount - 1));
    this.baseDirty = true;
    this.schedule();
  }

  /** An op the log applied: follow someone else's drawing to its page, and redraw. */
  applied(op, live) {
    const follow = $("wb-follow").checked && !this.drawing;
    const you = this.room.you;
    const mine = you && op.user_id === you.user_id;
    if (live && follow && !mine && op.page !== this.page && op.kind !== "erase") {
      this.showPage(op.page);
    }
    this.baseDirty = true;
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const { board } = this.log;
    if (this.baseDirty) {
      paintPage(this.base.getContext("2d"), board.items(this.page));
      this.baseDirty = false;
    }
    const ctx = this.ctx;
    ctx.drawImage(this.base, 0, 0);
    for (const op of this.log.pending.values()) {
      if (op.page === this.page && DRAWN.includes(op.kind)) drawItem(ctx, op);
    }
    if (this.drawing && this.drawing.preview) drawItem(ctx, this.drawing.preview, false);
    const c = this.canvas;
    c.dataset.page = String(this.page);
    c.dataset.items = String(board.items(this.page).length);
    c.dataset.total = String(board.total);
    c.dataset.wbSeq = String(this.log.seq);
    c.dataset.pending = String(this.log.pending.size);
    const count = this.pageCount;
    c.setAttribute(
      "aria-label",
      `Whiteboard, page ${this.page + 1} of ${count}: ${board.items(this.page).length} item(s)`,
    );
    $("wb-page-label").textContent = `Page ${this.page + 1} of ${count}`;
    $("wb-prev").disabled = this.page === 0;
    $("wb-next").disabled = this.page >= count - 1;
  }
}
