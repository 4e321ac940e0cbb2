// The live whiteboard's drawing tools, for the host and presenters: pen, line, rectangle,
// ellipse, text and eraser on the canvas (mouse, touch or pen), text placed with Enter, undo of
// one's own last op, and clearing a page. Each finished gesture is sent as one op (a long
// stroke as several).

import { say } from "../ui.js";
import { HEIGHT, WIDTH } from "../whiteboard.js";
import { $, messages } from "./common.js";

// A stroke longer than this many points is sent as several ops (an op is at most 64 KB).
const MAX_POINTS = 1500;

const round = (n) => Math.round(n * 10) / 10;

export class BoardTools {
  constructor(room, log, view) {
    this.room = room;
    this.log = log;
    this.view = view;
    this.tool = "pen";
  }

  canDraw() {
    const you = this.room.you;
    return Boolean(
      you && ["host", "presenter"].includes(you.role) && this.room.connection.socket && !this.room.closed,
    );
  }

  send(kind, data, page = this.view.page) {
    this.log.send(kind, data, page);
  }

  /** The board point (board units) under a pointer event. */
  point(event) {
    const rect = this.view.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * WIDTH;
    const y = ((event.clientY - rect.top) / rect.height) * HEIGHT;
    return [round(Math.max(0, Math.min(WIDTH, x))), round(Math.max(0, Math.min(HEIGHT, y)))];
  }

  style() {
    return { color: $("wb-color").value, size: Number($("wb-size").value) };
  }

  bind() {
    this.bindCanvas();
    for (const b of document.querySelectorAll("[data-tool]")) {
      b.addEventListener("click", () => {
        this.tool = b.dataset.tool;
        for (const other of document.querySelectorAll("[data-tool]")) {
          other.setAttribute("aria-pressed", String(other === b));
        }
        $("wb-text-field").hidden = this.tool !== "text";
        this.view.canvas.dataset.tool = this.tool;
        const hint = $("wb-hint");
        hint.hidden = this.tool !== "text";
        hint.textContent =
          this.tool === "text"
            ? "Type the text, then click the board where it goes (or press Enter to place it)."
            : "";
      });
    }
    // Enter in the text box places the text without a pointer (top left, below what is there).
    $("wb-text").addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || !this.canDraw()) return;
      event.preventDefault();
      const text = $("wb-text").value.trim();
      if (!text) return;
      const { color, size } = this.style();
      const y = 40 + ((this.log.board.items(this.view.page).length * size * 4) % (HEIGHT - 120));
      this.send("text", { x: 40, y, text, color, size: size * 3 });
      $("wb-text").value = "";
    });
    $("wb-undo").addEventListener("click", () => this.undo());
    $("wb-clear").addEventListener("click", () => {
      if (window.confirm(`Clear page ${this.view.page + 1} for everyone? (Undo my last puts it back.)`)) {
        this.send("clear", {});
      }
    });
  }

  bindCanvas() {
    const view = this.view;
    const c = view.canvas;
    c.addEventListener("pointerdown", (event) => {
      if (!this.canDraw() || event.button !== 0) return;
      event.preventDefault();
      c.setPointerCapture(event.pointerId);
      const [x, y] = this.point(event);
      const { color, size } = this.style();
      if (this.tool === "text") {
        const text = $("wb-text").value.trim();
        if (!text) {
          say(messages, "Type the text to place first, then click the board.", "error");
          $("wb-text").focus();
          return;
        }
        this.send("text", { x, y, text, color, size: size * 3 });
        return;
      }
      if (this.tool === "eraser") {
        view.drawing = { tool: "eraser", erased: new Set() };
        this.eraseAt(x, y);
        return;
      }
      if (this.tool === "pen") {
        const sim = event.pointerType !== "pen";
        const pressure = sim ? 0.5 : event.pressure || 0.5;
        view.drawing = {
          tool: "pen",
          preview: { kind: "stroke", data: { points: [[x, y, pressure]], color, size, sim } },
        };
      } else {
        view.drawing = {
          tool: this.tool,
          preview: { kind: "shape", data: { type: this.tool, x1: x, y1: y, x2: x, y2: y, color, size: size / 2 } },
        };
      }
      view.schedule();
    });
    c.addEventListener("pointermove", (event) => {
      const d = view.drawing;
      if (!d) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events.length ? events : [event]) {
        const [x, y] = this.point(e);
        if (d.tool === "eraser") this.eraseAt(x, y);
        else if (d.tool === "pen") {
          const data = d.preview.data;
          const pressure = data.sim ? 0.5 : e.pressure || 0.5;
          data.points.push([x, y, round(pressure * 100) / 100]);
          if (data.points.length >= MAX_POINTS) {
            // Send what we have and go on with a new stroke from the same point.
            this.send("stroke", { ...data, points: data.points });
            d.preview = { kind: "stroke", data: { ...data, points: [[x, y, pressure]] } };
          }
        } else {
          d.preview.data.x2 = x;
          d.preview.data.y2 = y;
        }
      }
      view.schedule();
    });
    const finish = () => {
      const d = view.drawing;
      view.drawing = null;
      if (!d || d.tool === "eraser") return;
      const { kind, data } = d.preview;
      if (kind === "shape" && data.x1 === data.x2 && data.y1 === data.y2) {
        view.schedule();
        return;
      }
      this.send(kind, data);
    };
    c.addEventListener("pointerup", finish);
    c.addEventListener("pointercancel", finish);
  }

  eraseAt(x, y) {
    const target = this.log.board.hit(this.view.page, x, y);
    if (!target || this.view.drawing.erased.has(target.seq)) return;
    this.view.drawing.erased.add(target.seq);
    this.send("erase", { target: target.seq });
  }

  undo() {
    const mine = this.log.board.lastOwn(this.room.you.user_id);
    if (!mine) {
      say(messages, "Nothing of yours to undo on the board.");
      return;
    }
    this.send("undo", { target: mine.seq }, mine.page);
  }
}
