// A minimal PDF writer: one page per JPEG image, each image filling its page. Enough for
// exporting whiteboard pages; no fonts, no compression beyond the JPEGs' own (DCTDecode).
// PDF 1.4, a classic cross-reference table; every offset is counted in bytes.

const encoder = new TextEncoder();

/**
 * A PDF (as a Blob) with one page per image.
 * @param {{jpeg: Uint8Array, width: number, height: number}[]} images  pixel sizes
 * @param {number} pageWidth  in points (1/72 in); the height follows each image's aspect ratio
 */
export function pdfFromJpegs(images, pageWidth = 842) {
  const chunks = [];
  const offsets = [];
  let length = 0;
  const push = (part) => {
    const bytes = typeof part === "string" ? encoder.encode(part) : part;
    chunks.push(bytes);
    length += bytes.length;
  };
  const object = (id, body) => {
    offsets[id] = length;
    push(`${id} 0 obj\n`);
    for (const part of body) push(part);
    push("\nendobj\n");
  };

  // Objects: 1 catalog, 2 page tree, then per page i: page, content stream, image.
  const count = images.length;
  const pageId = (i) => 3 + i * 3;
  push("%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n");
  object(1, ["<< /Type /Catalog /Pages 2 0 R >>"]);
  const kids = images.map((_, i) => `${pageId(i)} 0 R`).join(" ");
  object(2, [`<< /Type /Pages /Kids [${kids}] /Count ${count} >>`]);
  images.forEach((image, i) => {
    const w = pageWidth;
    const h = Math.round((pageWidth * image.height) / image.width * 100) / 100;
    const id = pageId(i);
    object(id, [
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${w} ${h}] ` +
        `/Resources << /XObject << /Im0 ${id + 2} 0 R >> >> /Contents ${id + 1} 0 R >>`,
    ]);
    const content = `q ${w} 0 0 ${h} 0 0 cm /Im0 Do Q`;
    object(id + 1, [`<< /Length ${content.length} >>\nstream\n${content}\nendstream`]);
    object(id + 2, [
      `<< /Type /XObject /Subtype /Image /Width ${image.width} /Height ${image.height} ` +
        `/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode ` +
        `/Length ${image.jpeg.length} >>\nstream\n`,
      image.jpeg,
      "\nendstream",
    ]);
  });
  const size = 3 + count * 3;
  const xref = length;
  push(`xref\n0 ${size}\n0000000000 65535 f \n`);
  for (let id = 1; id < size; id += 1) {
    push(`${String(offsets[id]).padStart(10, "0")} 00000 n \n`);
  }
  push(`trailer\n<< /Size ${size} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  return new Blob(chunks, { type: "application/pdf" });
}
