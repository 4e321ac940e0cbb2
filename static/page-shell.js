// The frame shared by the grading pages (lesson settings, grading queue, gradebook, a student's
// grades): each HTML page has #messages, #page-loading, and #page with #page-back, #page-title,
// #page-subtitle and #page-body; the page's script fills #page-body and calls show().

import { ApiError } from "./api.js";
import { addAccountLinks } from "./nav.js";
import { sayProblem } from "./ui.js";

export const messages = document.getElementById("messages");

/** The address's path segments, decoded: /teach/lessons/{id}/grading -> [teach, lessons, id, grading]. */
export function segments() {
  return window.location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
}

/** Shows the page with its title (also the document's), subtitle and back link. */
export function show({ title, subtitle = "", back = null, backText = null }) {
  document.title = `${title} · Seminar`;
  document.getElementById("page-title").textContent = title;
  document.getElementById("page-subtitle").textContent = subtitle;
  const link = document.getElementById("page-back");
  if (back) link.href = back;
  if (backText) link.textContent = backText;
  document.getElementById("page-loading").hidden = true;
  document.getElementById("page").hidden = false;
}

export const body = () => document.getElementById("page-body");

/** The page cannot be shown: says why (401 links to sign in). */
export function fail(error, prefix) {
  if (!(error instanceof ApiError)) throw error;
  document.getElementById("page-loading").hidden = true;
  sayProblem(messages, error, prefix);
}

/** The page is for staff only. */
export function refuse(text) {
  document.getElementById("page-loading").hidden = true;
  const p = document.createElement("p");
  p.textContent = text;
  messages.className = "messages error";
  messages.replaceChildren(p);
}

export const STAFF_ROLES = new Set(["owner", "co_instructor", "teaching_assistant", "admin"]);
export const EDITOR_ROLES = new Set(["owner", "co_instructor", "admin"]);

addAccountLinks(); // the signed-in user's links in the site navigation (nav.js)
