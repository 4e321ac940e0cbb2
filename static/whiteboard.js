// The whiteboard's board and its drawing: the op log rules of docs/live-protocol.md (strokes,
// shapes and texts per page; erase, clear and undo remove them) and a canvas renderer.
// Pen strokes are outlined with perfect-freehand from [x, y, pressure] points.
//
// Coordinates are board units: every board is WIDTH x HEIGHT whatever the screen, so a stroke
// drawn on a phone lands in the same place on a laptop. The canvas keeps that resolution and
// CSS scales it.

import { getStroke } from "./vendor/perfect-freehand/perfect-freehand.js";

export const WIDTH = 1600;
export const HEIGHT = 900;
const DRAWN = new Set(["stroke", "shape", "text"]);

/** The live strokes, shapes and texts per page, after every erase, clear and undo. */
export class Board {
  constructor() {
    this.pages = new Map(); // page -> [op] in seq order
    this.lastPage = 0; // the highest page any op has touched
    this.removals = new Map(); // seq -> erase or clear op seen since load (undoable)
    this.undone = new Set(); // seqs of ops an undo has taken back
  }

  /** Starts from a join state's snapshot: {"<page>": [op, ...]}. */
  load(snapshotPages) {
    this.pages.clear();
    this.removals.clear();
    this.undone.clear();
    this.lastPage = 0;
    for (const [page, ops] of Object.entries(snapshotPages || {})) {
      const p = Number(page);
      this.pages.set(p, [...ops]);
      this.lastPage = Math.max(this.lastPage, p);
    }
  }

  apply(op) {
    this.lastPage = Math.max(this.lastPage, op.page);
    if (DRAWN.has(op.kind)) {
      const list = this.pages.get(op.page) || [];
      list.push(op);
      this.pages.set(op.page, list);
    } else if (op.kind === "clear") {
      this.pages.set(op.page, []);
      this.removals.set(op.seq, op);
    } else if (op.kind === "erase" || op.kind === "undo") {
      const target = op.data && op.data.target;
      for (const [page, list] of this.pages) {
        const kept = list.filter((item) => item.seq !== target);
        if (kept.length !== list.length) this.pages.set(page, kept);
      }
      if (op.kind === "erase") this.removals.set(op.seq, op);
      else this.undone.add(target);
      // Undoing an erase or a clear puts back what it removed (the server lists it).
      for (const back of (op.data && op.data.restore) || []) {
        const list = this.pages.get(back.page) || [];
        if (!list.some((item) => item.seq === back.seq)) {
          list.push(back);
          list.sort((a, b) => a.seq - b.seq);
          this.pages.set(back.page, list);
          this.lastPage = Math.max(this.lastPage, back.page);
        }
      }
    }
  }

  items(page) {
    return this.pages.get(page) || [];
  }

  get total() {
    let n = 0;
    for (const list of this.pages.values()) n += list.length;
    return n;
  }

  /** One's own newest op that undo can take back: a stroke, shape or text still on the
   * board, or an erase or clear (seen since the board was loaded) not undone yet. */
  lastOwn(userId) {
    let found = null;
    const consider = (item) => {
      if (item.user_id === userId && !this.undone.has(item.seq) && (!found || item.seq > found.seq)) {
        found = item;
      }
    };
    for (const list of this.pages.values()) list.forEach(consider);
    this.removals.forEach(consider);
    return found;
  }

  /** The topmost item of ``page`` within reach of board point (x, y), or null. */
  hit(page, x, y, reach = 12) {
    const list = this.items(page);
    for (let i = list.length - 1; i >= 0; i -= 1) {
      if (hits(list[i], x, y, reach)) return list[i];
    }
    return null;
  }
}

function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function hits(item, x, y, reach) {
  const d = item.data || {};
  if (item.kind === "stroke") {
    const pts = d.points || [];
    const r = reach + (d.size || 8) / 2;
    if (pts.length === 1) return Math.hypot(x - pts[0][0], y - pts[0][1]) <= r;
    for (let i = 1; i < pts.length; i += 1) {
      if (segmentDistance(x, y, pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1]) <= r) {
        return true;
      }
    }
    return false;
  }
  if (item.kind === "shape") {
    const r = reach + (d.size || 4) / 2;
    if (d.type === "line") return segmentDistance(x, y, d.x1, d.y1, d.x2, d.y2) <= r;
    const left = Math.min(d.x1, d.x2) - r;
    const right = Math.max(d.x1, d.x2) + r;
    const top = Math.min(d.y1, d.y2) - r;
    const bottom = Math.max(d.y1, d.y2) + r;
    return x >= left && x <= right && y >= top && y <= bottom;
  }
  if (item.kind === "text") {
    const size = d.size || 32;
    const width = String(d.text || "").length * size * 0.6;
    return x >= d.x - reach && x <= d.x + width + reach && y >= d.y - reach && y <= d.y + size;
  }
  return false;
}

// perfect-freehand's outline points -> an SVG path for Path2D (its README's helper).
function pathFromOutline(points) {
  if (!points.length) return "";
  const average = (a, b) => (a + b) / 2;
  const len = points.length;
  if (len < 4) {
    return `M${points.map((p) => `${p[0].toFixed(2)},${p[1].toFixed(2)}`).join("L")}Z`;
  }
  let a = points[0];
  let b = points[1];
  const c = points[2];
  let result =
    `M${a[0].toFixed(2)},${a[1].toFixed(2)} Q${b[0].toFixed(2)},${b[1].toFixed(2)} ` +
    `${average(b[0], c[0]).toFixed(2)},${average(b[1], c[1]).toFixed(2)} T`;
  for (let i = 2, max = len - 1; i < max; i += 1) {
    a = points[i];
    b = points[i + 1];
    result += `${average(a[0], b[0]).toFixed(2)},${average(a[1], b[1]).toFixed(2)} `;
  }
  return `${result}Z`;
}

export function strokeOptions(data, last = true) {
  return {
    size: data.size || 8,
    thinning: 0.6,
    smoothing: 0.5,
    streamline: 0.5,
    simulatePressure: Boolean(data.sim),
    last,
  };
}

/** Draws one stroke, shape or text on a 2D context in board units. */
export function drawItem(ctx, item, last = true) {
  const d = item.data || {};
  const color = typeof d.color === "string" ? d.color : "#1b1f24";
  ctx.save();
  if (item.kind === "stroke") {
    const outline = getStroke(d.points || [], strokeOptions(d, last));
    ctx.fillStyle = color;
    ctx.fill(new Path2D(pathFromOutline(outline)));
  } else if (item.kind === "shape") {
    ctx.strokeStyle = color;
    ctx.lineWidth = d.size || 4;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    if (d.type === "line") {
      ctx.moveTo(d.x1, d.y1);
      ctx.lineTo(d.x2, d.y2);
    } else if (d.type === "ellipse") {
      const rx = Math.abs(d.x2 - d.x1) / 2;
      const ry = Math.abs(d.y2 - d.y1) / 2;
      ctx.ellipse((d.x1 + d.x2) / 2, (d.y1 + d.y2) / 2, rx, ry, 0, 0, Math.PI * 2);
    } else {
      ctx.rect(
        Math.min(d.x1, d.x2),
        Math.min(d.y1, d.y2),
        Math.abs(d.x2 - d.x1),
        Math.abs(d.y2 - d.y1),
      );
    }
    ctx.stroke();
  } else if (item.kind === "text") {
    ctx.fillStyle = color;
    ctx.font = `${d.size || 32}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    ctx.fillText(String(d.text || ""), d.x, d.y);
  }
  ctx.restore();
}

/** Paints a page (white background, then its items in order) on a WIDTH x HEIGHT context. */
export function paintPage(ctx, items) {
  ctx.save();
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, WIDTH, HEIGHT);
  ctx.restore();
  for (const item of items) drawItem(ctx, item);
}
