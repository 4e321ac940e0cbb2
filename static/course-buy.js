// The course page's buying part (/courses/{id}, static/courses.js calls it): a paid course's
// Buy button (POST /courses/{id}/checkout, then off to Stripe Checkout), "Sign in to buy" for
// visitors, the subscription's note and "Enroll with your subscription" for subscribers, and
// the page Stripe returns to: ?checkout=success waits for the webhook to enroll the buyer
// (polling with back-off, about a minute at most), ?checkout=cancelled says nothing was charged.
// Buyers type promotion codes on Stripe's page (the box says so). Those the server would refuse
// (409 user_is_course_staff) get a note instead of Buy: the course's instructors (the catalog's
// ``instructors``, by the signed-in user's id) and admins at once, a teaching assistant (not
// listed) once the server says so.

import { ApiError, api } from "./api.js";
import { coursePrice } from "./money.js";
import { button, el, link, problemText } from "./ui.js";

// Waits between checks of the enrollment after a payment: quick at first, then every 2 s;
// about 60 s in all before the page says the order is still being confirmed.
const POLL_DELAYS_MS = [1000, 1000, 1000, 1500, 1500, ...Array(26).fill(2000)];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const isPaid = (course) => !course.is_free && course.price_cents > 0;

const PROMOTION_HINT = "Have a promotion code? Enter it on the payment page.";

/**
 * Who may not buy the course, as far as the page knows: "admin" (administrators cannot enroll as
 * students), "owner" or "co_instructor" (the catalog's ``instructors``, by id); else null.
 */
function nonBuyerRole(course, user) {
  if (!user) return null;
  if (user.role === "admin") return "admin";
  return (course.instructors || []).find((person) => person.id === user.id)?.role ?? null;
}

/** What a course's staff (or an admin) get instead of Buy: the editor, and the codes' page. */
function staffNote(course, role, box) {
  const text =
    role === "admin"
      ? "Administrators cannot buy courses: students see its Buy button here. "
      : "You teach this course, so there is nothing to buy: students see its Buy button here. ";
  const note = el("p", text, "muted purchase-note staff-note");
  if (role !== "staff") note.append(link(`/teach/${course.id}`, "Edit the course"));
  if (role === "owner" || role === "admin") {
    note.append(" · ", link(`/teach/courses/${course.id}/promotion-codes`, "Promotion codes"));
  }
  box.append(note);
}

/** Whether the signed-in user's enrollment in ``courseId`` is active (all pages of theirs). */
export async function activeEnrollment(courseId) {
  let cursor = null;
  for (let pages = 0; pages < 20; pages += 1) {
    const params = new URLSearchParams({ limit: "100" });
    if (cursor) params.set("cursor", cursor);
    const page = await api("GET", `/users/me/enrollments?${params}`);
    if (page.items.some((item) => item.course_id === courseId && item.status === "active")) {
      return true;
    }
    cursor = page.next_cursor;
    if (!cursor) return false;
  }
  return false;
}

function showProblem(region, error) {
  if (!(error instanceof ApiError)) throw error;
  region.replaceChildren(el("p", problemText(error)));
  if (error.status === 503 && error.code === "payments_not_configured") {
    region.append(el("p", "Buying courses is not available on this site yet."));
  }
}

async function subscriptionState() {
  try {
    return await api("GET", "/me/subscription");
  } catch (error) {
    if (error instanceof ApiError) return null; // not offered here, or not signed in
    throw error;
  }
}

/** The subscription's note and, for an active subscriber, the button that enrolls. */
async function subscriptionOffer(course, user, box, problem, onEnrolled) {
  if (!course.included_in_subscription) return;
  box.append(el("p", "Included in the Seminar subscription.", "muted purchase-note"));
  if (!user) return;
  const state = await subscriptionState();
  if (state?.active) {
    const join = button("Enroll with your subscription", "button");
    join.addEventListener("click", async () => {
      problem.replaceChildren();
      join.disabled = true;
      try {
        await api("POST", `/courses/${course.id}/enrollments`);
        await onEnrolled(`You are enrolled in ${course.title} with your subscription.`);
      } catch (error) {
        showProblem(problem, error);
      } finally {
        join.disabled = false;
      }
    });
    box.append(join);
  } else {
    box.append(link("/account/subscription", "Subscribe", "button secondary"));
  }
}

/** Waits for the webhook to enroll the buyer; true once it has, false after about a minute. */
async function waitForEnrollment(courseId) {
  for (const delay of POLL_DELAYS_MS) {
    try {
      if (await activeEnrollment(courseId)) return true;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error; // a passing network problem: ask again
    }
    await sleep(delay);
  }
  return activeEnrollment(courseId).catch(() => false);
}

async function confirmPayment(course, status, onEnrolled) {
  status.className = "messages info";
  status.replaceChildren(el("p", "Payment received — confirming…"));
  status.setAttribute("aria-busy", "true");
  const enrolled = await waitForEnrollment(course.id);
  status.removeAttribute("aria-busy");
  if (enrolled) {
    status.className = "messages success";
    status.replaceChildren(el("p", `Payment confirmed: you are enrolled in ${course.title}.`));
    await onEnrolled(null, "Start learning");
    return true;
  }
  status.className = "messages info";
  const p = el("p", "Your order is still being confirmed; this can take a few minutes. ");
  p.append(link("/account/orders", "See your orders"), " for its status.");
  status.replaceChildren(p);
  return false;
}

/**
 * Sets up buying for a paid or subscription course. ``parts``: the page's #purchase box,
 * #checkout-status region, #enroll button and #enroll-problem region; ``onEnrolled(message,
 * continueText)`` switches the page to its enrolled state.
 */
export async function setUpPurchase(course, user, enrolled, parts, onEnrolled) {
  const { box, status, enroll, problem } = parts;
  const returned = new URLSearchParams(window.location.search).get("checkout");
  if (returned === "cancelled") {
    status.className = "messages info";
    status.replaceChildren(
      el("p", "Checkout was cancelled: nothing was charged. You can buy the course whenever you like."),
    );
  }
  if (enrolled && returned === "success") {
    // The webhook was faster than the buyer's way back: nothing to wait for.
    status.className = "messages success";
    status.replaceChildren(el("p", `Payment confirmed: you are enrolled in ${course.title}.`));
    await onEnrolled(null, "Start learning");
    return;
  }
  if (enrolled || !isPaid(course)) {
    if (!enrolled && course.included_in_subscription) {
      await subscriptionOffer(course, user, box, problem, onEnrolled);
      box.hidden = false;
    }
    return;
  }
  enroll.hidden = true; // a paid course is bought, not enrolled in
  box.hidden = false;
  const role = nonBuyerRole(course, user);
  if (role) {
    staffNote(course, role, box);
    return;
  }
  const priceText = coursePrice(course);
  if (!user) {
    box.append(link("/", `Sign in to buy (${priceText})`, "button"));
    box.append(el("p", PROMOTION_HINT, "muted purchase-note promotion-hint"));
    await subscriptionOffer(course, user, box, problem, onEnrolled);
    return;
  }
  if (returned === "success") {
    if (await confirmPayment(course, status, onEnrolled)) return;
  }
  const buy = button(`Buy for ${priceText}`, "button");
  buy.id = "buy";
  const hint = el("p", PROMOTION_HINT, "muted purchase-note promotion-hint");
  buy.addEventListener("click", async () => {
    problem.replaceChildren();
    buy.disabled = true;
    try {
      const started = await api("POST", `/courses/${course.id}/checkout`);
      window.location.assign(started.url);
    } catch (error) {
      buy.disabled = false;
      if (error instanceof ApiError && error.code === "already_enrolled") {
        await onEnrolled(`You are already enrolled in ${course.title}.`);
        return;
      }
      if (error instanceof ApiError && error.code === "user_is_course_staff") {
        // A teaching assistant (the catalog lists only instructors): the server knows better.
        buy.remove();
        hint.remove();
        staffNote(course, "staff", box);
        return;
      }
      showProblem(problem, error);
    }
  });
  box.prepend(buy, hint);
  await subscriptionOffer(course, user, box, problem, onEnrolled);
}
