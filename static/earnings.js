// /teach/earnings: an instructor's share of their courses' sales by course and month (GET
// /me/earnings: sales, earned, reversed by refunds, net; CSV), and their payouts (GET
// /me/payouts): with Stripe Connect, onboarding or the account's state, balances available,
// held and paid out per currency, and the transfers; without it, the platform pays them by bank
// transfer and the payouts an administrator recorded are listed (date, amount, reference).

import { ApiError, api } from "./api.js";
import { formatMoney } from "./money.js";
import { body, fail, messages, show } from "./page-shell.js";
import { button, el, say, sayProblem } from "./ui.js";
import { csvLink, dataTable, dateText, monthName, section } from "./tables.js";

const TRANSFER_STATUS = {
  pending: "On its way",
  paid: "Paid",
  failed: "Failed (Stripe refused it; owed again)",
  reversed: "Reversed (owed again)",
};

const EARNINGS_COLUMNS = [
  { label: "Course" },
  { label: "Month" },
  { label: "Sales", numeric: true },
  { label: "Earned", numeric: true },
  { label: "Reversed", numeric: true },
  { label: "Net", numeric: true },
];

function earningsBox(items) {
  const box = section("earnings", "Earnings by course and month");
  if (!items.length) {
    box.append(el("p", "No sales yet: your share of each sale shows here.", "muted"));
    return box;
  }
  const money = (cents, row) => formatMoney(cents, row.currency);
  const rows = items.map((row) => [
    row.course_title,
    monthName(row.month),
    String(row.sales),
    money(row.earned_cents, row),
    money(row.reversed_cents ? -row.reversed_cents : 0, row),
    money(row.net_cents, row),
  ]);
  const table = dataTable("Your share of each course's sales", EARNINGS_COLUMNS, rows, "earnings-table");
  table.table.id = "earnings-table";
  box.append(
    table,
    el("p", "Reversed: taken back by refunds in that month. Amounts are in each sale's currency.", "hint"),
  );
  const actions = el("p");
  actions.append(csvLink("/me/earnings.csv", "Download CSV"));
  box.append(actions);
  return box;
}

function accountLine(account) {
  if (!account) return "You have not set up payouts yet.";
  if (account.payouts_enabled) return "Your payout account is ready: payouts go to your bank.";
  if (account.details_submitted) return "Stripe is checking your details; payouts start once it has.";
  return "Your payout account needs more details.";
}

function onboardingButton(account) {
  const text = account ? "Continue payout setup" : "Set up payouts";
  const go = button(text, "button");
  go.addEventListener("click", async () => {
    go.disabled = true;
    try {
      const started = await api("POST", "/me/payouts/onboarding");
      window.location.assign(started.url);
    } catch (error) {
      go.disabled = false;
      if (!(error instanceof ApiError)) throw error;
      sayProblem(messages, error, "Payout setup cannot be started: ");
    }
  });
  return go;
}

/** A calendar day ("2026-11-21") as a local date text, without shifting it by the time zone. */
function dayText(day) {
  if (!day) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
}

/** Without Connect: the bank transfers the platform made and recorded, newest first. */
function bankPayouts(transfers) {
  const manual = transfers.filter((t) => t.method === "manual");
  if (!manual.length) return el("p", "No payouts recorded yet.", "muted");
  const columns = [{ label: "Paid on" }, { label: "Amount", numeric: true }, { label: "Bank reference" }];
  const rows = manual.map((t) => [dayText(t.paid_on), formatMoney(t.amount_cents, t.currency), t.reference]);
  return dataTable("Payouts from the platform", columns, rows, "bank-payouts-table");
}

function payoutsBox(payouts) {
  const box = section("payouts", "Payouts");
  if (!payouts) {
    box.append(el("p", "Payouts cannot be shown on this site at the moment.", "muted"));
    return box;
  }
  if (!payouts.connect_enabled) {
    box.append(el("p", "Your earnings are paid by the platform: it settles what you are owed with you directly.", "muted payout-note"));
    box.append(bankPayouts(payouts.transfers));
    return box;
  }
  const state = el("p", accountLine(payouts.account), "payout-account");
  state.id = "payout-account";
  box.append(state);
  if (!payouts.account?.payouts_enabled) box.append(onboardingButton(payouts.account));
  if (payouts.balances.length) {
    const columns = [
      { label: "Currency" },
      { label: "Available", numeric: true },
      { label: "Held", numeric: true },
      { label: "Paid out", numeric: true },
    ];
    const rows = payouts.balances.map((b) => [
      b.currency.toUpperCase(),
      formatMoney(b.available_cents, b.currency),
      formatMoney(b.held_cents, b.currency),
      formatMoney(b.paid_out_cents, b.currency),
    ]);
    box.append(dataTable("Balances", columns, rows, "balances-table"));
    box.append(el("p", "Held: recent sales, kept back until they can no longer be refunded.", "hint"));
  }
  const transfers = [{ label: "Date" }, { label: "Amount", numeric: true }, { label: "Status" }];
  if (payouts.transfers.length) {
    const rows = payouts.transfers.map((t) => [
      t.method === "manual" ? dayText(t.paid_on) : dateText(t.created_at),
      formatMoney(t.amount_cents, t.currency),
      t.method === "manual" ? `Paid by bank transfer (${t.reference})` : TRANSFER_STATUS[t.status] || t.status,
    ]);
    box.append(dataTable("Transfers to your account", transfers, rows, "transfers-table"));
  } else {
    box.append(el("p", "No transfers yet.", "muted"));
  }
  return box;
}

async function payoutState() {
  try {
    return await api("GET", "/me/payouts");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return null; // payouts are shown as unavailable; the earnings stay useful
  }
}

async function earningsPage() {
  let report;
  try {
    report = await api("GET", "/me/earnings");
  } catch (error) {
    fail(error, "Your earnings cannot be shown: ");
    return;
  }
  const payouts = await payoutState();
  show({ title: "Earnings", subtitle: "Your share of your courses' sales.", back: "/teach", backText: "Teach" });
  body().append(earningsBox(report.items), payoutsBox(payouts));
  const returned = new URLSearchParams(window.location.search).get("onboarding");
  if (returned === "done") say(messages, "Thank you: Stripe has your payout details.", "success");
  if (returned === "refresh") say(messages, "The payout setup link expired: start it again.", "info");
  // Said once: a reload shows the page without the notice.
  if (returned) window.history.replaceState(null, "", window.location.pathname);
}

earningsPage();
