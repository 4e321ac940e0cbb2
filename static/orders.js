// /account/orders: the signed-in user's orders, newest first (GET /me/orders, "Load more" with
// its cursor): course, date, amount in the order's currency, status (refunds included), the
// PDF receipt of a paid order, and "Continue to payment" while an order waits for its payment.
// An order bought with a promotion code shows what was paid, the list price struck through and
// the discount with its code ("−€24.50 (LAUNCH-50)").

import { ApiError, api } from "./api.js";
import { formatMoney } from "./money.js";
import { body, fail, messages, show } from "./page-shell.js";
import { button, el, link, sayProblem } from "./ui.js";
import { dataTable, dateText, tableRow } from "./tables.js";

const COLUMNS = [
  { label: "Course" },
  { label: "Date" },
  { label: "Amount", numeric: true },
  { label: "Status" },
  { label: "Actions" },
];

function statusText(order) {
  const back = formatMoney(order.refunded_cents, order.currency);
  switch (order.status) {
    case "pending":
      return "Awaiting payment";
    case "paid":
      return "Paid";
    case "failed":
      return "Payment failed";
    case "partially_refunded":
      return `Partially refunded (${back} back)`;
    case "refunded":
      return `Refunded (${back} back)`;
    default:
      return order.status;
  }
}

/** What was paid; with a discount, also the list price struck through and the code. */
function amountCell(order) {
  const paid = formatMoney(order.amount_cents, order.currency);
  if (!order.discount_cents) return paid;
  const cell = el("span", null, "order-amount");
  const listPrice = el("s", null, "list-price");
  listPrice.append(el("span", "List price ", "visually-hidden"), formatMoney(order.list_price_cents, order.currency));
  const discount = el("span", null, "order-discount");
  const code = order.promotion_code ? ` (${order.promotion_code})` : "";
  discount.append(listPrice, ` −${formatMoney(order.discount_cents, order.currency)}${code}`);
  cell.append(el("span", paid, "order-paid"), discount);
  return cell;
}

function actions(order) {
  const cell = el("span", null, "row-actions");
  if (order.paid_at && order.status !== "pending" && order.status !== "failed") {
    const receipt = link(`/api/v1/me/orders/${order.id}/receipt`, "Receipt (PDF)", "button secondary small");
    receipt.setAttribute("aria-label", `Receipt for ${order.course.title}`);
    cell.append(receipt);
  }
  if (order.status === "pending" && order.checkout_url) {
    const pay = link(order.checkout_url, "Continue to payment", "button small");
    pay.setAttribute("aria-label", `Continue to payment for ${order.course.title}`);
    cell.append(pay);
  }
  return cell;
}

function orderRow(order) {
  const course = link(`/courses/${order.course.id}`, order.course.title);
  const row = tableRow(COLUMNS, [
    course,
    dateText(order.paid_at || order.created_at),
    amountCell(order),
    el("span", statusText(order), `order-status status-${order.status}`),
    actions(order),
  ]);
  row.dataset.orderId = order.id;
  return row;
}

async function ordersPage() {
  let first;
  try {
    first = await api("GET", "/me/orders?limit=20");
  } catch (error) {
    fail(error, "Your orders cannot be shown: ");
    return;
  }
  show({ title: "Your orders", subtitle: "Courses you bought, newest first.", back: "/my", backText: "My courses" });
  if (!first.items.length) {
    body().append(el("p", "You have not bought a course yet.", "muted"), link("/catalog", "Browse the catalog"));
    return;
  }
  const wrap = dataTable("Your orders", COLUMNS, [], "orders-table");
  wrap.table.id = "orders";
  const tbody = wrap.table.tBodies[0];
  const more = button("Load more", "button secondary");
  const card = el("div", null, "card");
  card.append(wrap, el("p"));
  card.lastChild.append(more);
  body().append(card);

  let cursor = null;
  function add(page) {
    tbody.append(...page.items.map(orderRow));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  add(first);
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      add(await api("GET", `/me/orders?limit=20&cursor=${encodeURIComponent(cursor)}`));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      sayProblem(messages, error, "More orders could not be loaded: ");
    } finally {
      more.disabled = false;
    }
  });
}

ordersPage();
