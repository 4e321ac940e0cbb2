// The site navigation's links that depend on who is signed in: "Orders" and "Subscription" for
// everyone signed in, "Earnings" for instructors (and admins), "Revenue" and "Promotion codes"
// for admins. The HTML pages carry the links everyone gets; this module adds the others once
// /users/me answers (and the start page redraws them when someone signs in or out).

import { ApiError, api } from "./api.js";

let who = null;

/** The signed-in user (GET /users/me), asked once per page; null when signed out. */
export function currentUser() {
  who ??= api("GET", "/users/me").catch((error) => {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  });
  return who;
}

function linksFor(user) {
  const links = [
    ["/account/orders", "Orders"],
    ["/account/subscription", "Subscription"],
  ];
  if (user.role === "instructor" || user.role === "admin") links.push(["/teach/earnings", "Earnings"]);
  if (user.role === "admin") {
    links.push(["/admin/revenue", "Revenue"], ["/admin/promotion-codes", "Promotion codes"]);
  }
  return links;
}

function mainList() {
  return document.querySelector('.site-nav[aria-label="Main"] ul');
}

function addLinks(list, user) {
  const account = [...list.querySelectorAll("a")].find((a) => a.getAttribute("href") === "/");
  for (const [href, text] of linksFor(user)) {
    const li = document.createElement("li");
    li.dataset.accountLink = "";
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (window.location.pathname === href) a.setAttribute("aria-current", "page");
    li.append(a);
    if (account) account.closest("li").before(li);
    else list.append(li);
  }
}

/** Adds the signed-in user's links to the main navigation (before "Account" when there is one). */
export async function addAccountLinks() {
  let user;
  try {
    user = await currentUser();
  } catch (error) {
    if (error instanceof ApiError) return; // the page itself says what went wrong
    throw error;
  }
  const list = mainList();
  if (!user || !list || list.querySelector("[data-account-link]")) return;
  addLinks(list, user);
}

/** Someone signed in (``user``) or out (null) on this page: their links replace the others. */
export function showAccountLinks(user) {
  who = Promise.resolve(user);
  const list = mainList();
  if (!list) return;
  for (const item of list.querySelectorAll("[data-account-link]")) item.remove();
  if (user) addLinks(list, user);
}
