// /admin/revenue (admins): the platform's revenue by month and currency (GET /admin/revenue:
// sales, gross, refunded, Stripe fees, the platform's and instructors' shares; CSV), what each
// instructor is owed (GET /admin/payables; CSV), "Run payouts now" when Stripe Connect is on
// (POST /admin/payouts/run), and an instructor's own platform fee (PUT / DELETE
// /admin/instructors/{id}/platform-fee).

import { ApiError, api } from "./api.js";
import { formatMoney } from "./money.js";
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

function payablesBox(items, connectEnabled) {
  const box = section("payables", "Owed to instructors");
  if (items.length) {
    const columns = [{ label: "Instructor" }, { label: "Currency" }, { label: "Balance", numeric: true }];
    const rows = items.map((p) => [
      p.instructor_name || "(deleted account)",
      p.currency.toUpperCase(),
      formatMoney(p.balance_cents, p.currency),
    ]);
    const table = dataTable("What each instructor is owed", columns, rows, "payables-table");
    table.table.id = "payables-table";
    box.append(table, el("p", "A negative balance: refunds took back more than the instructor was owed.", "hint"));
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
