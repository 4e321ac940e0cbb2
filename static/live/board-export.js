// The live whiteboard's export: the page shown as PNG, every page as one PDF (static/pdf.js),
// painted afresh from the board (no pending ops, no gesture in progress).

import { link } from "../ui.js";
import { pdfFromJpegs } from "../pdf.js";
import { HEIGHT, WIDTH, paintPage } from "../whiteboard.js";
import { $ } from "./common.js";

/** The export buttons of ``view`` (a BoardView). */
export function bindExport(view) {
  $("wb-png").addEventListener("click", () => exportPng(view));
  $("wb-pdf").addEventListener("click", () => exportPdf(view));
}

function pageCanvas(board, page) {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  paintPage(canvas.getContext("2d"), board.items(page));
  return canvas;
}

async function exportPng(view) {
  const canvas = pageCanvas(view.log.board, view.page);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  download(blob, `whiteboard-page-${view.page + 1}.png`);
}

async function exportPdf(view) {
  const images = [];
  for (let page = 0; page < view.pageCount; page += 1) {
    const blob = await new Promise((resolve) =>
      pageCanvas(view.log.board, page).toBlob(resolve, "image/jpeg", 0.9),
    );
    images.push({ jpeg: new Uint8Array(await blob.arrayBuffer()), width: WIDTH, height: HEIGHT });
  }
  download(pdfFromJpegs(images), "whiteboard.pdf");
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = link(url, filename);
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
