// Tables for the marketplace pages (orders, earnings, revenue): a caption, column headers, the
// first cell of each row as its row header, numbers right-aligned; wrapped so a wide table
// scrolls sideways on a phone instead of widening the page.

import { el, link } from "./ui.js";

/**
 * ``columns``: [{ label, numeric }]; ``rows``: arrays of cells (text or a DOM node), one per
 * column. Returns the scrolling wrapper; the table itself is ``wrapper.table``.
 */
export function dataTable(caption, columns, rows, className = "") {
  const table = el("table", null, `data-table ${className}`.trim());
  table.append(el("caption", caption));
  const head = el("tr");
  for (const column of columns) {
    const th = el("th", column.label, column.numeric ? "num" : null);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  for (const row of rows) tbody.append(tableRow(columns, row));
  table.append(thead, tbody);
  const wrap = el("div", null, "table-scroll");
  wrap.tabIndex = 0; // a scrolling region reachable from the keyboard
  wrap.setAttribute("role", "region");
  wrap.setAttribute("aria-label", caption);
  wrap.append(table);
  wrap.table = table;
  return wrap;
}

export function tableRow(columns, cells) {
  const tr = el("tr");
  cells.forEach((cell, i) => {
    const node = el(i === 0 ? "th" : "td", null, columns[i]?.numeric ? "num" : null);
    if (i === 0) node.scope = "row";
    else if (columns[i]) node.dataset.label = columns[i].label; // named beside it on a phone
    if (cell instanceof Node) node.append(cell);
    else node.textContent = cell ?? "";
    tr.append(node);
  });
  return tr;
}

/** A section card with a heading (the heading names the section for screen readers). */
export function section(id, title) {
  const box = el("section", null, "card market-section");
  box.id = id;
  const heading = el("h2", title);
  heading.id = `${id}-title`;
  box.setAttribute("aria-labelledby", heading.id);
  box.append(heading);
  return box;
}

/** A link to download a CSV file from the API (same origin: the session cookie goes along). */
export function csvLink(path, text) {
  const a = link(`/api/v1${path}`, text, "button secondary");
  a.setAttribute("download", "");
  return a;
}

/** "2026-11" -> "November 2026" (UTC months, as the reports group them). */
export function monthName(month) {
  const [year, number] = String(month).split("-").map(Number);
  if (!year || !number) return month;
  const date = new Date(Date.UTC(year, number - 1, 1));
  return new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" }).format(date);
}

/** An ISO instant as a local date: "2026-11-23T07:00:00Z" -> "Nov 23, 2026". */
export function dateText(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(iso));
}
