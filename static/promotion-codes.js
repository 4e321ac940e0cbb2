// The promotion-code pages, in the marketplace frame (static/page-shell.js):
//   /teach/courses/{course id}/promotion-codes  a course's codes (its owner and admins)
//   /admin/promotion-codes                       codes valid for every course (admins)
// Each lists the codes (discount, uses, expiry, active or stopped, a Stop button) and has a
// form to make one; the server validates, and its field errors (problem+json ``errors``, each
// with a ``loc``) are shown beside the fields they name. Buyers type the codes on Stripe's
// payment page; Seminar never computes a discount itself.

import { ApiError, api } from "./api.js";
import { formatMoney, fractionDigits, toMinor } from "./money.js";
import { currentUser } from "./nav.js";
import { body, fail, messages, refuse, segments, show } from "./page-shell.js";
import { button, el, link, problemText, say } from "./ui.js";
import { dataTable, dateText, section, tableRow } from "./tables.js";

const COLUMNS = [
  { label: "Code" },
  { label: "Discount", numeric: true },
  { label: "Uses", numeric: true },
  { label: "Expires" },
  { label: "Status" },
  { label: "Actions" },
];

// The currencies an admin's amount-off code may be in (a course's codes take the course's).
const CURRENCIES = ["EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK", "PLN"];

// The request's fields -> the form control that shows their errors.
const FIELD_FOR = {
  code: "code",
  percent_off: "percent_off",
  amount_off_cents: "amount_off",
  currency: "currency",
  max_redemptions: "max_redemptions",
  expires_at: "expires_on",
};

// The request's fields as the form names them, for the summary above the form.
const LABELS = {
  code: "Code",
  percent_off: "Percent off",
  amount_off_cents: "Amount off",
  currency: "Currency",
  max_redemptions: "Maximum uses",
  expires_at: "Valid until",
};

const percentText = (value) => `${new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(value)} %`;

/** "25 %" or "€10.00" (an amount in its currency). */
function discountText(code) {
  if (code.percent_off !== null && code.percent_off !== undefined) return percentText(code.percent_off);
  return formatMoney(code.amount_off_cents, code.currency);
}

function usesText(code) {
  return `${code.times_redeemed} / ${code.max_redemptions ?? "no limit"}`;
}

function statusText(code) {
  if (!code.active) return "Stopped";
  if (code.expires_at && new Date(code.expires_at) <= new Date()) return "Expired";
  if (code.max_redemptions !== null && code.times_redeemed >= code.max_redemptions) return "Used up";
  return "Active";
}

// --- the list ---------------------------------------------------------------------------------

function codeRow(code, onStop) {
  const cell = el("span", null, "row-actions");
  if (code.active) {
    const stop = button("Stop", "button secondary small", `Stop ${code.code}`);
    stop.addEventListener("click", () => onStop(code, stop));
    cell.append(stop);
  }
  const status = statusText(code);
  const row = tableRow(COLUMNS, [
    el("code", code.code),
    discountText(code),
    usesText(code),
    code.expires_at ? dateText(code.expires_at) : "Never",
    el("span", status, `code-status status-${status.toLowerCase().replace(" ", "-")}`),
    cell,
  ]);
  row.dataset.codeId = code.id;
  return row;
}

function codeList(scope) {
  const box = section("codes", scope.listTitle);
  const empty = el("p", "No promotion codes yet.", "muted");
  const wrap = dataTable(scope.listTitle, COLUMNS, [], "codes-table");
  wrap.table.id = "promotion-codes";
  wrap.table.caption.className = "visually-hidden"; // the section's heading says it already
  box.append(empty, wrap);

  async function stop(code, control) {
    if (!window.confirm(`Stop ${code.code}? Buyers can no longer use it; orders that used it keep it.`)) return;
    control.disabled = true;
    try {
      await api("DELETE", `${scope.path}/${code.id}`);
      say(messages, `${code.code} is stopped: buyers can no longer use it.`, "success");
      await load();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      control.disabled = false;
      say(messages, `${code.code} was not stopped: ${problemText(error)}`, "error");
    }
  }

  async function load(items = null) {
    const codes = items ?? (await api("GET", scope.path)).items;
    wrap.table.tBodies[0].replaceChildren(...codes.map((code) => codeRow(code, stop)));
    empty.hidden = codes.length > 0;
    wrap.hidden = codes.length === 0;
  }

  return { box, load };
}

// --- the form ---------------------------------------------------------------------------------

function control(tag, name, attributes = {}) {
  const node = el(tag);
  node.name = name;
  node.id = `promo-${name.replace(/_/g, "-")}`;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function field(labelText, input, hintText = null) {
  const wrap = el("div", null, "field");
  const label = el("label", labelText);
  label.htmlFor = input.id;
  const error = el("p", null, "field-error");
  error.id = `${input.id}-error`;
  error.hidden = true;
  const described = [error.id];
  wrap.append(label, input);
  if (hintText) {
    const hint = el("p", hintText, "hint");
    hint.id = `${input.id}-hint`;
    described.unshift(hint.id);
    wrap.append(hint);
  }
  wrap.append(error);
  input.setAttribute("aria-describedby", described.join(" "));
  return wrap;
}

/** Percent or amount: two radio buttons; the other kind's field is hidden. */
function kindChoice(onChange) {
  const box = el("fieldset", null, "field kind-choice");
  box.append(el("legend", "Discount"));
  const radios = {};
  for (const [value, text] of [["percent", "Percent off"], ["amount", "Amount off"]]) {
    const radio = control("input", "kind", { type: "radio", value });
    radio.id = `promo-kind-${value}`;
    radio.defaultChecked = value === "percent"; // what form.reset() goes back to
    radio.checked = radio.defaultChecked;
    radio.addEventListener("change", onChange);
    const label = el("label", null, "radio-label");
    label.append(radio, ` ${text}`);
    box.append(label);
    radios[value] = radio;
  }
  return { box, isPercent: () => radios.percent.checked };
}

function codeForm(scope, onMade) {
  const form = el("form", null, "card market-section promo-form");
  form.id = "promotion-code-form";
  form.noValidate = true;
  const title = el("h2", "Make a promotion code");
  title.id = "promotion-code-form-title";
  form.setAttribute("aria-labelledby", title.id);
  const problems = el("div", null, "messages");
  problems.id = "promotion-code-problems";
  problems.setAttribute("role", "alert");

  const code = control("input", "code", { type: "text", maxlength: "64", autocomplete: "off", spellcheck: "false" });
  const percent = control("input", "percent_off", { type: "number", min: "0.01", max: "100", step: "0.01", inputmode: "decimal" });
  const amount = control("input", "amount_off", { type: "number", min: "0", inputmode: "decimal" });
  const currency = control("select", "currency");
  for (const c of scope.currency ? [scope.currency] : CURRENCIES) currency.append(el("option", c));
  const uses = control("input", "max_redemptions", { type: "number", min: "1", step: "1", inputmode: "numeric" });
  const expires = control("input", "expires_on", { type: "date" });

  const percentField = field("Percent off (%)", percent);
  const amountField = field(scope.currency ? `Amount off (${scope.currency})` : "Amount off", amount);
  const currencyField = field("Currency", currency);
  const kind = kindChoice(() => showKind());
  function showKind() {
    percentField.hidden = !kind.isPercent();
    amountField.hidden = kind.isPercent();
    currencyField.hidden = kind.isPercent() || Boolean(scope.currency);
    const digits = fractionDigits(scope.currency || currency.value);
    amount.step = digits ? (1 / 10 ** digits).toFixed(digits) : "1";
  }
  currency.addEventListener("change", showKind);
  showKind();

  const make = el("button", "Make the code", "button");
  make.type = "submit";
  form.append(
    title,
    el("p", scope.formHint, "muted"),
    problems,
    field("Code", code, "What buyers type on the payment page: 3 to 64 letters, digits and dashes, e.g. LAUNCH-50."),
    kind.box,
    percentField,
    amountField,
    currencyField,
    field("Maximum uses (optional)", uses, "Empty: no limit."),
    field("Valid until (optional)", expires, "The code stops at the end of this day."),
    make,
  );

  function clear() {
    problems.replaceChildren();
    problems.className = "messages";
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    for (const node of form.querySelectorAll(".field-error")) {
      node.textContent = "";
      node.hidden = true;
    }
  }

  function mark(input, text) {
    input.setAttribute("aria-invalid", "true");
    const slot = document.getElementById(`${input.id}-error`);
    slot.textContent = text;
    slot.hidden = false;
  }

  /** The server's problem: a summary above the form, each field error beside its field. */
  function showProblem(error) {
    const list = el("ul");
    for (const problem of error.fieldErrors) {
      const loc = (Array.isArray(problem.loc) ? problem.loc : []).filter((p) => p !== "body");
      const input = form.elements.namedItem(FIELD_FOR[loc[0]] ?? "");
      let text = problem.message || problem.msg || "is not valid";
      if (loc[0] === "code" && /pattern/.test(problem.type || "")) {
        text = "Use 3 to 64 letters, digits and dashes, starting with a letter or digit.";
      }
      if (input && !input.closest("[hidden]")) mark(input, text);
      const where = LABELS[loc[0]] ?? loc.join(".");
      list.append(el("li", where ? `${where}: ${text}` : text));
    }
    if (error.code === "promotion_code_taken") mark(code, error.message);
    problems.className = "messages error";
    problems.append(el("p", `The code was not made: ${error.fieldErrors.length ? "fix the marked fields." : problemText(error)}`));
    if (list.children.length) problems.append(list);
    form.querySelector('[aria-invalid="true"]')?.focus();
  }

  function read() {
    const data = { code: code.value.trim() };
    const money = scope.currency || currency.value;
    if (kind.isPercent()) data.percent_off = percent.value === "" ? null : Number(percent.value);
    else {
      data.amount_off_cents = amount.value === "" ? null : toMinor(amount.value, money);
      if (!scope.currency) data.currency = money;
    }
    if (uses.value.trim() !== "") data.max_redemptions = Number(uses.value);
    // "Valid until" a day means through its end, in the maker's time zone.
    if (expires.value) data.expires_at = new Date(`${expires.value}T23:59:59`).toISOString();
    return data;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear();
    const data = read();
    const missing = kind.isPercent() ? data.percent_off === null : data.amount_off_cents === null;
    if (missing) {
      mark(kind.isPercent() ? percent : amount, "Please fill this in.");
      problems.className = "messages error";
      problems.append(el("p", "The code was not made: fix the marked fields."));
      form.querySelector('[aria-invalid="true"]').focus();
      return;
    }
    make.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const made = await api("POST", scope.path, data);
      form.reset();
      showKind();
      await onMade(made);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showProblem(error);
    } finally {
      make.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

// --- the pages --------------------------------------------------------------------------------

async function coursePage() {
  const courseId = segments()[2];
  let course;
  let codes;
  try {
    course = await api("GET", `/courses/${encodeURIComponent(courseId)}`);
    if (!["owner", "admin"].includes(course.your_role)) {
      refuse("A course's promotion codes are for its owner and administrators.");
      return;
    }
    codes = await api("GET", `/courses/${course.id}/promotion-codes`);
  } catch (error) {
    fail(error, "The promotion codes cannot be shown: ");
    return;
  }
  const free = course.is_free || course.price_cents <= 0;
  const scope = {
    path: `/courses/${course.id}/promotion-codes`,
    listTitle: `Promotion codes for ${course.title}`,
    currency: course.currency.toUpperCase(),
    formHint: "The code takes a percentage or an amount off this course's price, once per purchase.",
  };
  show({
    title: "Promotion codes",
    subtitle: `${course.title}: buyers type a code on the payment page to get its discount.`,
    back: `/teach/${course.id}`,
    backText: "Course editor",
  });
  const list = codeList(scope);
  await list.load(codes.items);
  if (free) {
    // Codes made while the course had a price are still listed (and can be stopped).
    const note = el("p", "This course is free, so promotion codes do not apply: there is no price to discount. ");
    note.append(link(`/teach/${course.id}`, "Set a price in the course editor"), " to use them.");
    note.id = "free-course-note";
    const box = el("div", null, "messages info");
    box.append(note);
    body().append(box);
    if (codes.items.length) body().append(list.box);
    return;
  }
  body().append(
    list.box,
    codeForm(scope, async (made) => {
      say(messages, `${made.code} is ready: buyers type it on the payment page.`, "success");
      await list.load();
    }),
  );
}

async function adminPage() {
  let codes;
  try {
    const user = await currentUser();
    if (user && user.role !== "admin") {
      refuse("Promotion codes for every course are made by administrators.");
      return;
    }
    codes = await api("GET", "/admin/promotion-codes");
  } catch (error) {
    fail(error, "The promotion codes cannot be shown: ");
    return;
  }
  const scope = {
    path: "/admin/promotion-codes",
    listTitle: "Promotion codes for every course",
    currency: null,
    formHint: "The code is valid on every paid course; an amount off applies to courses in its currency.",
  };
  show({
    title: "Promotion codes",
    subtitle: "Codes valid for every course. A course's owner makes codes for one course from its editor.",
    back: "/admin/revenue",
    backText: "Revenue",
  });
  const list = codeList(scope);
  await list.load(codes.items);
  body().append(
    list.box,
    codeForm(scope, async (made) => {
      say(messages, `${made.code} is ready: buyers type it on the payment page of any course.`, "success");
      await list.load();
    }),
  );
}

const PAGES = { "promotion-codes": coursePage, "admin-promotion-codes": adminPage };
PAGES[document.body.dataset.page]?.();
