// /account/subscription: the platform plan. Its prices (GET /subscription/plans), the caller's
// state (GET /me/subscription: renews or ends on …), Subscribe per interval (POST
// /me/subscription/checkout, then off to Stripe Checkout, which returns here with
// ?checkout=success) and "Manage billing" (POST /me/subscription/portal: Stripe's portal).
// A site without the plan (503) says it is not offered.

import { ApiError, api } from "./api.js";
import { formatMoney } from "./money.js";
import { body, fail, messages, show } from "./page-shell.js";
import { button, el, say, sayProblem } from "./ui.js";
import { dateText, section } from "./tables.js";

const INTERVALS = { month: "Monthly", year: "Yearly" };
const PER = { month: "per month", year: "per year" };
const NOT_OFFERED = new Set(["subscriptions_not_configured", "payments_not_configured"]);

async function goTo(path, payload, control, prefix) {
  control.disabled = true;
  try {
    const started = await api("POST", path, payload);
    window.location.assign(started.url);
  } catch (error) {
    control.disabled = false;
    if (!(error instanceof ApiError)) throw error;
    sayProblem(messages, error, prefix);
  }
}

function statusLine(state) {
  if (!state.active) return state.status === "none" ? "You are not subscribed." : `Subscription ${state.status.replaceAll("_", " ")}.`;
  const plan = INTERVALS[state.interval] ? `${INTERVALS[state.interval]} plan` : "Subscribed";
  if (!state.current_period_end) return `${plan}: active.`;
  const when = dateText(state.current_period_end);
  return state.cancel_at_period_end ? `${plan}: ends on ${when}.` : `${plan}: renews on ${when}.`;
}

function currentBox(state) {
  const box = section("subscription-status", "Your subscription");
  const line = el("p", statusLine(state), "subscription-state");
  line.id = "subscription-state";
  box.append(line);
  if (state.status !== "none") {
    const manage = button("Manage billing", "button secondary");
    manage.addEventListener("click", () =>
      goTo("/me/subscription/portal", undefined, manage, "The billing page cannot be opened: "),
    );
    box.append(manage, el("p", "Change your plan, your card, or cancel on Stripe's billing page.", "hint"));
  }
  return box;
}

function plansBox(plans, state) {
  const box = section("subscription-plans", "Plans");
  box.append(el("p", "One subscription opens every course included in it.", "muted"));
  const list = el("ul", null, "plan-list");
  for (const plan of plans) {
    const li = el("li", null, "plan");
    const name = INTERVALS[plan.interval] || plan.interval;
    li.append(el("h3", name), el("p", `${formatMoney(plan.price_cents, plan.currency)} ${PER[plan.interval] || ""}`.trim(), "plan-price"));
    if (!state?.active) {
      const subscribe = button(`Subscribe ${name.toLowerCase()}`, "button");
      subscribe.addEventListener("click", () =>
        goTo("/me/subscription/checkout", { interval: plan.interval }, subscribe, "The subscription cannot be started: "),
      );
      li.append(subscribe);
    }
    list.append(li);
  }
  box.append(list);
  return box;
}

async function subscriptionPage() {
  let plans;
  let state = null;
  try {
    plans = (await api("GET", "/subscription/plans")).plans;
  } catch (error) {
    if (!(error instanceof ApiError) || !NOT_OFFERED.has(error.code)) return fail(error, "The plans cannot be shown: ");
    plans = null;
  }
  try {
    state = await api("GET", "/me/subscription");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401 || plans) return fail(error, "Your subscription cannot be shown: ");
  }
  show({ title: "Subscription", back: "/my", backText: "My courses" });
  if (!plans || !plans.length) {
    body().append(el("p", "This site does not offer a subscription at the moment.", "muted not-offered"));
    if (state && state.status !== "none") body().append(currentBox(state));
    return;
  }
  const render = (current) => body().replaceChildren(...(current ? [currentBox(current)] : []), plansBox(plans, current));
  render(state);
  if (new URLSearchParams(window.location.search).get("checkout") !== "success") return;
  if (!state?.active) {
    say(messages, "Thank you: your subscription is being confirmed…", "info");
    state = await waitUntilActive();
    render(state);
  }
  say(
    messages,
    state?.active
      ? "Thank you: your subscription is active."
      : "Your subscription is still being confirmed; this can take a few minutes. Reload the page to see it.",
    state?.active ? "success" : "info",
  );
}

/** After Stripe's checkout: asks again until the webhook has made the plan active (~30 s). */
async function waitUntilActive() {
  let state = null;
  for (let attempt = 0; attempt < 15; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, attempt < 3 ? 1000 : 2000));
    try {
      state = await api("GET", "/me/subscription");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    if (state?.active) break;
  }
  return state;
}

subscriptionPage();
