"""A PDF receipt per paid order (fpdf2), in the certificates' fonts (DejaVu Sans, with the CJK
fallback when a title needs it; Helvetica and "?" for what Latin-1 lacks when DejaVu is not
installed). Rendering is CPU work: callers run it in a thread."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.certificates.render import FONT_DIRS, _Fonts, completion_date
from lms_core.courses.models import Course
from lms_core.errors import Conflict, NotFound
from lms_core.payments.models import Order, OrderStatus

# Stripe's zero-decimal currencies: amounts are in whole units.
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
SETTLED = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


def money(cents: int, currency: str) -> str:
    if currency.upper() in ZERO_DECIMAL:
        return f"{cents:,} {currency.upper()}"
    return f"{cents / 100:,.2f} {currency.upper()}"


@dataclass(frozen=True, slots=True)
class ReceiptText:
    order_id: uuid.UUID
    buyer_name: str
    buyer_email: str
    course_title: str
    list_price_cents: int
    discount_cents: int
    promotion_code: str | None
    amount_cents: int
    refunded_cents: int
    currency: str
    paid_at: datetime
    reference: str


async def receipt_for(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> ReceiptText:
    """The receipt of the caller's order (or any order, for an admin)."""
    order = await session.get(Order, order_id)
    if order is None or (order.user_id != actor.id and not actor.is_admin):
        raise NotFound("No such order.", code="order_not_found")
    if order.status not in SETTLED or order.paid_at is None:
        raise Conflict("The order is not paid: there is no receipt yet.", code="order_not_paid")
    buyer = await session.get(User, order.user_id)
    course = await session.get(Course, order.course_id)
    assert buyer is not None
    assert course is not None
    return ReceiptText(
        order_id=order.id,
        buyer_name=buyer.name,
        buyer_email=buyer.email,
        course_title=course.title,
        list_price_cents=order.list_price_cents,
        discount_cents=order.discount_cents,
        promotion_code=order.promotion_code,
        amount_cents=order.amount_cents,
        refunded_cents=order.refunded_cents,
        currency=order.currency,
        paid_at=order.paid_at,
        reference=order.stripe_charge_id or order.stripe_session_id or "",
    )


def render_receipt(content: ReceiptText) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"Receipt {content.order_id}")
    pdf.set_creator("Seminar")
    pdf.add_page()
    fonts = _Fonts(pdf, FONT_DIRS, content.buyer_name + content.course_title)
    text = fonts.text
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font(fonts.family, "B", 22)
    pdf.cell(width, 12, text("Receipt"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(fonts.family, "", 11)
    rows = [
        ("Order", str(content.order_id)),
        ("Paid on", completion_date(content.paid_at)),
        ("Billed to", f"{content.buyer_name} <{content.buyer_email}>"),
        ("Payment reference", content.reference),
    ]
    pdf.ln(4)
    for label, value in rows:
        pdf.set_font(fonts.family, "B", 11)
        pdf.cell(45, 7, text(label))
        pdf.set_font(fonts.family, "", 11)
        pdf.multi_cell(width - 45, 7, text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(fonts.family, "B", 11)
    pdf.cell(width - 50, 8, text("Item"), border="B")
    pdf.cell(50, 8, text("Amount"), border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(fonts.family, "", 11)
    lines = [(f"Course: {content.course_title}", content.list_price_cents)]
    if content.discount_cents:
        code = f" ({content.promotion_code})" if content.promotion_code else ""
        lines.append((f"Discount{code}", -content.discount_cents))
    if content.refunded_cents:
        lines.append(("Refunded", -content.refunded_cents))
    for label, cents in lines:
        pdf.cell(width - 50, 8, text(label))
        sign = "-" if cents < 0 else ""
        pdf.cell(
            50,
            8,
            text(sign + money(abs(cents), content.currency)),
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.set_font(fonts.family, "B", 11)
    pdf.cell(width - 50, 9, text("Total paid"), border="T")
    net = content.amount_cents - content.refunded_cents
    pdf.cell(
        50,
        9,
        text(money(net, content.currency)),
        border="T",
        align="R",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
