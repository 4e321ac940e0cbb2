// /admin/revenue (admins): the platform's revenue by month and currency (GET /admin/revenue:
// sales, gross, refunded, Stripe fees, the platform's and instructors' shares; CSV), what each
// instructor is owed (GET /admin/payables; CSV), "Run payouts now" when Stripe Connect is on
// (POST /admin/payouts/run), "Record payout" on each owed instructor when it is off (a bank
// transfer the school made: POST /admin/instructors/{id}/payouts), and an instructor's own
// platform fee (PUT / DELETE /admin/instructors/{id}/platform-fee).

import { ApiError, api } from "./api.js";
import { formatMoney, fractionDigits, toMajor, toMinor } from "./money.js";
import { body, fail, messages, refuse, show } from "./page-shell.js";
import { currentUser } from "./nav.js";
import { button, el, say, sayProblem } from "./ui.js";
import { csvLink, dataTable, monthName, section } from "./tables.js";

const REVENUE_COLUMNS = [
  { label: "Month" },
  { label: "Currency" },
  { label: "Sales", numeric: true },
  { label: "Gross", numeric: true },
  { label: "Refunded", numeric: true },
  { label: "Stripe fees", numeric: true },
  { label: "Platform", numeric: true },
  { label: "Instructors", numeric: true },
  { label: "From subscriptions", numeric: true },
];

function revenueBox(items) {
  const box = section("revenue", "Revenue by month");
  if (items.length) {
    const rows = items.map((r) => {
      const money = (cents) => formatMoney(cents, r.currency);
      return [
        monthName(r.month),
        r.currency.toUpperCase(),
        String(r.sales),
        money(r.gross_cents),
        money(r.refunded_cents),
        money(r.stripe_fees_cents),
        money(r.platform_cents),
        money(r.instructors_cents),
        money((r.subscription_gross_cents ?? 0) - (r.subscription_refunded_cents ?? 0)),
      ];
    });
    const table = dataTable("Revenue by month and currency", REVENUE_COLUMNS, rows, "revenue-table");
    table.table.id = "revenue-table";
    box.append(
      table,
      el(
        "p",
        "Platform and instructors: their shares, net of refunds. From subscriptions: plan " +
          "payments net of refunds, included in the totals and all the platform's.",
        "hint",
      ),
    );
  } else {
    box.append(el("p", "No sales yet.", "muted"));
  }
  const actions = el("p");
  actions.append(csvLink("/admin/revenue.csv", "Revenue CSV"));
  box.append(actions);
  return box;
}

/** What each refusal of a recording means, in the admin's words. */
function payoutRefusal(error, row) {
  const who = row.instructor_name || "This instructor";
  const owed = error.problem?.balance_cents;
  switch (error.code) {
    case "payout_exceeds_balance":
      return `That is more than ${who} is owed: ${formatMoney(owed, row.currency)}. Nothing was recorded.`;
    case "nothing_owed":
      return `${who} is owed nothing in ${row.currency.toUpperCase()} now. Nothing was recorded.`;
    case "connect_enabled":
      return "Stripe Connect pays instructors on this site: its transfers are the payouts, so none is recorded here.";
    case "paid_on_in_future":
      return "The payment date cannot be in the future.";
    case "user_not_found":
      return `${who}'s account no longer exists.`;
    default:
      return null;
  }
}

/** The "Record payout" form for one payables row: the amount prefilled with what is owed. */
function recordPayoutForm(row, onDone) {
  const form = el("form", null, "inline-form record-payout");
  const who = row.instructor_name || "the instructor";
  form.setAttribute("aria-label", `Record a payout to ${who}`);
  const amount = el("input");
  amount.type = "number";
  amount.name = "amount";
  amount.required = true;
  amount.inputMode = "decimal";
  const digits = fractionDigits(row.currency);
  amount.step = digits ? String(10 ** -digits) : "1";
  amount.min = amount.step;
  amount.max = String(toMajor(row.balance_cents, row.currency));
  amount.value = toMajor(row.balance_cents, row.currency).toFixed(digits);
  const reference = el("input");
  reference.name = "reference";
  reference.required = true;
  reference.maxLength = 200;
  reference.autocomplete = "off";
  const paidOn = el("input");
  paidOn.type = "date";
  paidOn.name = "paid_on";
  paidOn.required = true;
  const now = new Date();
  paidOn.value = new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
  paidOn.max = paidOn.value;
  const save = el("button", "Save payout", "button");
  save.type = "submit";
  const cancel = button("Cancel");
  const currency = row.currency.toUpperCase();
  form.append(
    field(`payout-amount-${row.instructor_id}-${currency}`, `Amount (${currency})`, amount),
    field(`payout-reference-${row.instructor_id}-${currency}`, "Bank reference", reference),
    field(`payout-date-${row.instructor_id}-${currency}`, "Paid on", paidOn),
    save,
    cancel,
  );
  // One key for this form: a retry after a lost answer finds the payout instead of adding one.
  const key = crypto.randomUUID();
  cancel.addEventListener("click", () => onDone(false));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const cents = toMinor(amount.value, row.currency);
    save.disabled = true;
    try {
      const path = `/admin/instructors/${encodeURIComponent(row.instructor_id)}/payouts`;
      const payload = { currency: row.currency, amount_cents: cents, reference: reference.value, paid_on: paidOn.value };
      const paid = await api("POST", path, payload, { "Idempotency-Key": key });
      await onDone(true);
      say(messages, `Recorded a payout of ${formatMoney(paid.amount_cents, paid.currency)} to ${who} (${paid.reference}).`, "success");
    } catch (error) {
      save.disabled = false;
      if (!(error instanceof ApiError)) throw error;
      // The balance changed under the form (another payout, a refund): show the new one.
      if (error.code === "payout_exceeds_balance" || error.code === "nothing_owed") await onDone(true);
      const text = payoutRefusal(error, row);
      if (text) say(messages, text, "error");
      else sayProblem(messages, error, "The payout was not recorded: ");
    }
  });
  return form;
}

function payablesBox(items, connectEnabled) {
  const box = section("payables", "Owed to instructors");
  const refresh = async () => {
    const fresh = await api("GET", "/admin/payables");
    box.replaceWith(payablesBox(fresh.items, connectEnabled));
  };
  if (items.length) {
    const columns = [{ label: "Instructor" }, { label: "Currency" }, { label: "Balance", numeric: true }];
    // Without Connect the school pays by bank transfer and records each one here.
    const recording = !connectEnabled;
    if (recording) columns.push({ label: "Payout" });
    const formSlot = el("div", null, "record-payout-slot");
    const rows = items.map((p) => {
      const cells = [
        p.instructor_name || "(deleted account)",
        p.currency.toUpperCase(),
        formatMoney(p.balance_cents, p.currency),
      ];
      if (recording) {
        if (p.instructor_id && p.balance_cents > 0) {
          const label = `Record payout to ${p.instructor_name || "the instructor"} (${p.currency.toUpperCase()})`;
          const open = button("Record payout", "button secondary", label);
          open.addEventListener("click", () => {
            const form = recordPayoutForm(p, async (saved) => {
              if (saved) return refresh();
              formSlot.replaceChildren();
              open.focus();
            });
            formSlot.replaceChildren(form);
            form.querySelector("input[name=reference]").focus();
          });
          cells.push(open);
        } else {
          cells.push("");
        }
      }
      return cells;
    });
    const table = dataTable("What each instructor is owed", columns, rows, "payables-table");
    table.table.id = "payables-table";
    box.append(table, formSlot, el("p", "A negative balance: refunds took back more than the instructor was owed.", "hint"));
    if (recording) {
      box.append(el("p", "Paid an instructor by bank transfer? Record it with its reference: the balance drops by it and the instructor sees it on their earnings page.", "hint"));
    }
  } else {
    box.append(el("p", "Nobody is owed anything.", "muted"));
  }
  const actions = el("p");
  actions.append(csvLink("/admin/payables.csv", "Payables CSV"));
  if (connectEnabled) {
    const run = button("Run payouts now", "button");
    run.addEventListener("click", async () => {
      run.disabled = true;
      try {
        await api("POST", "/admin/payouts/run");
        say(messages, "Payouts started: transfers go out in the background.", "success");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        sayProblem(messages, error, "Payouts could not be started: ");
      } finally {
        run.disabled = false;
      }
    });
    actions.append(" ", run);
  }
  box.append(actions);
  return box;
}

function field(id, labelText, input) {
  const wrap = el("div", null, "field");
  input.id = id;
  const label = el("label", labelText);
  label.htmlFor = id;
  wrap.append(label, input);
  return wrap;
}

function option(id, text) {
  const node = el("option", text);
  node.value = id;
  return node;
}

/** Finding an instructor: by name or email (GET /admin/users?role=instructor&q=…). */
function instructorPicker(payables) {
  const query = el("input");
  query.type = "search";
  query.autocomplete = "off";
  const find = button("Find");
  const who = el("select");
  who.name = "user_id";
  const owed = payables.filter((p) => p.instructor_id);
  const seen = new Set();
  for (const p of owed) {
    if (seen.has(p.instructor_id)) continue;
    seen.add(p.instructor_id);
    who.append(option(p.instructor_id, p.instructor_name || p.instructor_id));
  }
  if (!who.options.length) who.append(option("", "Find an instructor first"));
  find.addEventListener("click", async () => {
    find.disabled = true;
    try {
      const params = new URLSearchParams({ role: "instructor", limit: "50" });
      if (query.value.trim()) params.set("q", query.value.trim());
      const page = await api("GET", `/admin/users?${params}`);
      who.replaceChildren(...page.items.map((u) => option(u.id, `${u.name} (${u.email})`)));
      if (!page.items.length) who.append(option("", "No instructor matches"));
      say(messages, `${page.items.length} instructor${page.items.length === 1 ? "" : "s"} found.`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      sayProblem(messages, error, "Instructors could not be searched: ");
    } finally {
      find.disabled = false;
    }
  });
  return { query, find, who };
}

function feeBox(payables) {
  const box = section("platform-fee", "An instructor's platform fee");
  box.append(el("p", "Their next sales use this fee instead of the site's; clearing it puts them back on the site's fee.", "muted"));
  const search = el("div", null, "inline-form");
  const { query, find, who } = instructorPicker(payables);
  search.append(field("fee-search", "Find an instructor (name or email)", query), find);
  const form = el("form", null, "inline-form fee-form");
  const percent = el("input");
  percent.type = "number";
  percent.name = "platform_fee_percent";
  percent.required = true;
  percent.min = "0";
  percent.max = "100";
  percent.step = "0.1";
  percent.inputMode = "decimal";
  const set = el("button", "Set fee", "button");
  set.type = "submit";
  const clear = button("Clear fee");
  form.append(field("fee-user", "Instructor", who), field("fee-percent", "Platform fee (%)", percent), set, clear);
  const path = () => `/admin/instructors/${encodeURIComponent(who.value)}/platform-fee`;
  const name = () => who.selectedOptions[0]?.textContent.replace(/ \(.*\)$/, "") || "The instructor";
  async function change(control, method, payload, done, prefix) {
    if (!who.value) return say(messages, "Choose an instructor first.", "error");
    control.disabled = true;
    try {
      const saved = await api(method, path(), payload);
      say(messages, done(saved), "success");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      sayProblem(messages, error, prefix);
    } finally {
      control.disabled = false;
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    change(set, "PUT", { platform_fee_percent: Number(percent.value) },
      (saved) => `${name()}'s platform fee is now ${saved.platform_fee_percent} %.`, "The fee was not saved: ");
  });
  clear.addEventListener("click", () =>
    change(clear, "DELETE", undefined, () => `${name()} is back on the site's platform fee.`, "The fee was not cleared: "),
  );
  box.append(search, form);
  return box;
}

async function connectEnabled() {
  try {
    return Boolean((await api("GET", "/me/payouts")).connect_enabled);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return false;
  }
}

async function revenuePage() {
  let user;
  let revenue;
  let payables;
  try {
    user = await currentUser();
    if (user && user.role !== "admin") return refuse("The revenue page is for administrators.");
    [revenue, payables] = await Promise.all([api("GET", "/admin/revenue"), api("GET", "/admin/payables")]);
  } catch (error) {
    fail(error, "The revenue cannot be shown: ");
    return;
  }
  const connect = await connectEnabled();
  show({ title: "Revenue", subtitle: "Sales, refunds and shares across the site.", back: "/teach", backText: "Teach" });
  body().append(revenueBox(revenue.items), payablesBox(payables.items, connect), feeBox(payables.items));
}

revenuePage();
