"""A bank as IMS QTI 2.1, out and back in.

Export: a content package (a zip) with ``imsmanifest.xml`` (IMS CP 1.1) listing one resource
of type ``imsqti_item_xmlv2p1`` per question, each an ``assessmentItem`` in ``items/``. Import:
such a package, or a single ``assessmentItem`` document. The mapping (docs/architecture.md,
"Question banks and grading", has the table):

* points: the ``MAXSCORE`` outcome's default value (read: else the mapping's ``upperBound``,
  else 1); ``SCORE`` is what responseProcessing sets.
* single choice / true/false: ``choiceInteraction maxChoices="1"``, the key in
  ``correctResponse``. A two-choice item whose choices read True and False is a true/false.
* multiple choice: ``choiceInteraction maxChoices="0"``, cardinality multiple; partial credit as
  a ``mapping`` (each correct option +points/correct, each wrong one -points/incorrect, lower
  bound 0: exactly Seminar's formula) with the ``map_response`` template; all-or-nothing as a
  match of ``correctResponse``.
* fill-in-the-blank: one ``textEntryInteraction`` per blank where its ``[[id]]`` marker stood,
  response ``RESPONSE_<id>``; accepted answers as ``mapEntry`` (with ``caseSensitive``); a
  pattern as the standard ``patternMatch`` operator in responseProcessing (a grading rule, which
  ``patternMask``, a constraint on typing, is not). QTI patterns are XML Schema regular
  expressions, Seminar's RE2: the simple common subset means the same, anchored to the whole
  answer in both.
* numeric: ``textEntryInteraction`` with a float response, the answer in ``correctResponse``,
  the tolerance as QTI's ``equal`` operator (``toleranceMode`` absolute, or relative = percent).
* matching: ``matchInteraction`` (prompts in the first ``simpleMatchSet``, choices in the
  second), ``directedPair`` responses; partial credit as a mapping.
* ordering: ``orderInteraction``, ordered cardinality; partial credit per position with the
  ``index`` operator.
* essay: ``extendedTextInteraction``, no responseProcessing (graded by hand); grader notes as a
  ``rubricBlock view="scorer"``.
* feedback: a ``modalFeedback`` (the question's) and a ``feedbackInline`` in a choice (the
  option's). Tags: LOM keywords in the manifest's resource metadata.

What QTI has no word for rides in attributes of the ``urn:seminar:qti:1`` namespace, which
other tools ignore: ``seminar:scoring`` (item), ``seminar:normalizeWhitespace`` and
``seminar:caseSensitive`` (a blank), ``seminar:minWords`` / ``seminar:maxWords`` (an essay). A
Markdown prompt is kept verbatim in ``<div class="seminar-markdown">``; an HTML prompt is
embedded as XHTML where it is well-formed. An item from elsewhere gets Seminar's defaults
(partial credit where it has a mapping, whitespace normalised, case-insensitive unless a
``mapEntry`` says otherwise) and its itemBody, interactions left out, as an HTML prompt.

Reading is of untrusted bytes: XML through ``defusedxml`` (no DTDs, no entities), a zip with
bounded size, member count and per-file size, manifest ``href``s confined to the package. Any
item Seminar cannot represent (another interaction, two interactions of different kinds...) is
reported by its name and nothing is imported (422 ``qti_invalid``, ``item_errors``), as are
items whose converted question is not valid.
"""

from __future__ import annotations

import io
import posixpath
import re
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.errors import InvalidInput
from lms_core.question_banks import interchange, schemas, service
from lms_core.question_banks.models import Question

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SEM_NS = "urn:seminar:qti:1"
ITEM_TYPES = ("imsqti_item_xmlv2p1", "imsqti_item_xmlv2p2")
TEMPLATE = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/"

MAX_PACKAGE_BYTES = 5 * 1024 * 1024  # the request body
MAX_MEMBERS = 1000  # entries in the zip
MAX_XML_BYTES = 1024 * 1024  # one XML file, uncompressed
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # all files read, uncompressed

_definition: TypeAdapter[schemas.QuestionDefinition] = TypeAdapter(schemas.QuestionDefinition)
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_MARKER = re.compile(r"\[\[([A-Za-z0-9_-]{1,40})\]\]")


class QtiInvalid(InvalidInput):
    """The package or some of its items cannot be imported; nothing was (``item_errors``)."""

    default_code = "qti_invalid"
    default_detail = "The QTI package cannot be imported; nothing was imported."


def _refuse(item: str, reason: str) -> QtiInvalid:
    return QtiInvalid(
        f"{item}: {reason}; nothing was imported.",
        extra={"item_errors": [{"item": item, "reason": reason}]},
    )


class _Unsupported(Exception):
    """An item Seminar cannot represent (its reason)."""


# == export ====================================================================================


def _el(parent: Element | None, tag: str, text: str | None = None, **attrs: str) -> Element:
    el = Element(tag, attrs) if parent is None else SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _value(parent: Element, text: str) -> None:
    _el(parent, "value", text)


def _response(
    root: Element, ident: str, cardinality: str, base: str, correct: list[str]
) -> Element:
    decl = _el(
        root, "responseDeclaration", identifier=ident, cardinality=cardinality, baseType=base
    )
    if correct:
        cr = _el(decl, "correctResponse")
        for c in correct:
            _value(cr, c)
    return decl


def _mapping(decl: Element, entries: list[tuple[str, float, bool | None]], points: float) -> None:
    mapping = _el(decl, "mapping", lowerBound="0", upperBound=_num(points), defaultValue="0")
    for key, value, case in entries:
        attrs = {"mapKey": key, "mappedValue": _num(value)}
        if case is not None:
            attrs["caseSensitive"] = "true" if case else "false"
        _el(mapping, "mapEntry", **attrs)


def _outcomes(root: Element, points: float) -> None:
    score = _el(
        root, "outcomeDeclaration", identifier="SCORE", cardinality="single", baseType="float"
    )
    _value(_el(score, "defaultValue"), "0")
    maxscore = _el(
        root, "outcomeDeclaration", identifier="MAXSCORE", cardinality="single", baseType="float"
    )
    _value(_el(maxscore, "defaultValue"), _num(points))
    _el(
        root,
        "outcomeDeclaration",
        identifier="FEEDBACK",
        cardinality="single",
        baseType="identifier",
    )


def _prompt(body: Element, q: schemas.QuestionDefinition) -> Element:
    """The prompt as a div; [[id]] markers of a fill-in-the-blank become text entries."""
    blank_ids = {b.id for b in q.blanks} if isinstance(q, schemas.FillInBlankIn) else set()
    if q.prompt_format == "html" and not blank_ids:
        try:
            parsed = SafeET.fromstring(f"<div>{q.prompt}</div>", forbid_dtd=True)
        except (ParseError, DefusedXmlException):
            parsed = None
        if parsed is not None and not any("}" in e.tag for e in parsed.iter()):
            parsed.set("class", "seminar-html")
            body.append(parsed)
            return parsed
    div = _el(body, "div", **{"class": f"seminar-{q.prompt_format}"})
    last: Element | None = None
    pos = 0
    placed: set[str] = set()
    for m in _MARKER.finditer(q.prompt):
        if m.group(1) not in blank_ids or m.group(1) in placed:
            continue
        text = q.prompt[pos : m.start()]
        if last is None:
            div.text = (div.text or "") + text
        else:
            last.tail = (last.tail or "") + text
        last = _el(div, "textEntryInteraction", responseIdentifier=f"RESPONSE_{m.group(1)}")
        placed.add(m.group(1))
        pos = m.end()
    rest = q.prompt[pos:]
    if last is None:
        div.text = (div.text or "") + rest
    else:
        last.tail = (last.tail or "") + rest
    return div


def _condition(rp: Element) -> tuple[Element, Element]:
    """A responseCondition's responseIf: (the element to put the test in, the if)."""
    cond = _el(rp, "responseCondition")
    return cond, _el(cond, "responseIf")


def _set_score(parent: Element, *, add: float | None = None) -> None:
    out = _el(parent, "setOutcomeValue", identifier="SCORE")
    if add is None:
        _el(out, "variable", identifier="MAXSCORE")
    else:
        total = _el(out, "sum")
        _el(total, "variable", identifier="SCORE")
        _el(total, "baseValue", _num(add), baseType="float")


def _rp_match_all(root: Element, idents: list[str]) -> None:
    rp = _el(root, "responseProcessing")
    _, if_ = _condition(rp)
    test: Element = _el(if_, "and") if len(idents) > 1 else if_
    for ident in idents:
        match = _el(test, "match")
        _el(match, "variable", identifier=ident)
        _el(match, "correct", identifier=ident)
    _set_score(if_)


def _choice_text(choice: Element, text: str, feedback: str) -> None:
    choice.text = text
    if feedback:
        _el(
            choice,
            "feedbackInline",
            feedback,
            outcomeIdentifier="FEEDBACK",
            identifier=choice.get("identifier", ""),
            showHide="show",
        )


def item_xml(q: schemas.QuestionDefinition, identifier: str) -> bytes:
    """One question as a QTI 2.1 ``assessmentItem`` document."""
    title = " ".join(q.prompt.split())[:80] or identifier
    root = _el(
        None,
        "assessmentItem",
        xmlns=QTI_NS,
        **{
            "xmlns:xsi": XSI_NS,
            "xmlns:seminar": SEM_NS,
            "xsi:schemaLocation": f"{QTI_NS} {QTI_XSD}",
        },
        identifier=identifier,
        title=title,
        adaptive="false",
        timeDependent="false",
    )
    scoring = getattr(q, "scoring", None)
    if scoring is not None:
        root.set("seminar:scoring", scoring)
    body = Element("itemBody")
    rp_builder: Any = None
    match q:
        case schemas.SingleChoiceIn() | schemas.MultipleChoiceIn():
            single = isinstance(q, schemas.SingleChoiceIn)
            correct = [o.id for o in q.options if o.correct]
            decl = _response(
                root, "RESPONSE", "single" if single else "multiple", "identifier", correct
            )
            partial = isinstance(q, schemas.MultipleChoiceIn) and q.scoring == "partial"
            if partial:
                wrong = len(q.options) - len(correct)
                _mapping(
                    decl,
                    [
                        (o.id, q.points / len(correct) if o.correct else -q.points / wrong, None)
                        for o in q.options
                    ],
                    q.points,
                )
            _prompt(body, q)
            inter = _el(
                body,
                "choiceInteraction",
                responseIdentifier="RESPONSE",
                shuffle="true" if q.shuffle else "false",
                maxChoices="1" if single else "0",
            )
            for o in q.options:
                _choice_text(_el(inter, "simpleChoice", identifier=o.id), o.text, o.feedback)
            rp_builder = "map" if partial else ["RESPONSE"]
        case schemas.TrueFalseIn():
            _response(root, "RESPONSE", "single", "identifier", ["true" if q.correct else "false"])
            _prompt(body, q)
            inter = _el(
                body,
                "choiceInteraction",
                responseIdentifier="RESPONSE",
                shuffle="false",
                maxChoices="1",
            )
            _el(inter, "simpleChoice", "True", identifier="true")
            _el(inter, "simpleChoice", "False", identifier="false")
            rp_builder = ["RESPONSE"]
        case schemas.FillInBlankIn():
            for b in q.blanks:
                decl = _response(root, f"RESPONSE_{b.id}", "single", "string", b.accepted[:1])
                if b.accepted:
                    _mapping(decl, [(a, 1.0, b.case_sensitive) for a in b.accepted], 1.0)
            div = _prompt(body, q)
            placed = {e.get("responseIdentifier") for e in div.iter("textEntryInteraction")}
            for b in q.blanks:  # a blank without its marker: after the prompt
                if f"RESPONSE_{b.id}" not in placed:
                    _el(
                        _el(body, "p"),
                        "textEntryInteraction",
                        responseIdentifier=f"RESPONSE_{b.id}",
                    )
            for e in body.iter("textEntryInteraction"):
                b = next(x for x in q.blanks if f"RESPONSE_{x.id}" == e.get("responseIdentifier"))
                e.set("seminar:caseSensitive", "true" if b.case_sensitive else "false")
                if not b.normalize_whitespace:
                    e.set("seminar:normalizeWhitespace", "false")
            rp_builder = q
        case schemas.NumericIn():
            _response(root, "RESPONSE", "single", "float", [_num(q.answer)])
            _prompt(body, q)
            _el(_el(body, "p"), "textEntryInteraction", responseIdentifier="RESPONSE")
            rp_builder = q
        case schemas.MatchingIn():
            pairs = [f"{p} {c}" for p, c in q.pairs.items()]
            decl = _response(root, "RESPONSE", "multiple", "directedPair", pairs)
            if q.scoring == "partial":
                _mapping(decl, [(p, q.points / len(pairs), None) for p in pairs], q.points)
            _prompt(body, q)
            inter = _el(
                body,
                "matchInteraction",
                responseIdentifier="RESPONSE",
                shuffle="true" if q.shuffle else "false",
                maxAssociations=str(len(q.prompts)),
            )
            left = _el(inter, "simpleMatchSet")
            for p in q.prompts:
                _el(left, "simpleAssociableChoice", p.text, identifier=p.id, matchMax="1")
            right = _el(inter, "simpleMatchSet")
            for c in q.choices:
                _el(
                    right,
                    "simpleAssociableChoice",
                    c.text,
                    identifier=c.id,
                    matchMax=str(len(q.prompts)),
                )
            rp_builder = "map" if q.scoring == "partial" else ["RESPONSE"]
        case schemas.OrderingIn():
            _response(root, "RESPONSE", "ordered", "identifier", list(q.correct_order))
            _prompt(body, q)
            inter = _el(body, "orderInteraction", responseIdentifier="RESPONSE", shuffle="true")
            for i in q.items:
                _el(inter, "simpleChoice", i.text, identifier=i.id)
            rp_builder = q if q.scoring == "partial" else ["RESPONSE"]
        case schemas.EssayIn():
            _response(root, "RESPONSE", "single", "string", [])
            _prompt(body, q)
            inter = _el(body, "extendedTextInteraction", responseIdentifier="RESPONSE")
            if q.min_words is not None:
                inter.set("seminar:minWords", str(q.min_words))
            if q.max_words is not None:
                inter.set("seminar:maxWords", str(q.max_words))
            if q.grader_notes:
                _el(_el(body, "rubricBlock", view="scorer"), "p", q.grader_notes)
    _outcomes(root, q.points)
    root.append(body)
    _processing(root, rp_builder)
    if q.feedback:
        _el(
            root,
            "modalFeedback",
            q.feedback,
            outcomeIdentifier="FEEDBACK",
            identifier="GENERAL",
            showHide="hide",
        )
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()


def _processing(root: Element, how: Any) -> None:
    if how is None:
        return
    if how == "map":
        _el(root, "responseProcessing", template=TEMPLATE + "map_response")
    elif isinstance(how, list):
        _rp_match_all(root, how)
    elif isinstance(how, schemas.NumericIn):
        rp = _el(root, "responseProcessing")
        _, if_ = _condition(rp)
        attrs = {"toleranceMode": "exact"}
        if how.tolerance:
            attrs = {
                "toleranceMode": "absolute" if how.tolerance_mode == "absolute" else "relative",
                "tolerance": f"{_num(how.tolerance)} {_num(how.tolerance)}",
            }
        equal = _el(if_, "equal", **attrs)
        _el(equal, "variable", identifier="RESPONSE")
        _el(equal, "correct", identifier="RESPONSE")
        _set_score(if_)
    elif isinstance(how, schemas.FillInBlankIn):
        rp = _el(root, "responseProcessing")
        share = how.points / len(how.blanks)
        if how.scoring == "partial":
            for b in how.blanks:
                _, if_ = _condition(rp)
                _blank_test(if_, b)
                _set_score(if_, add=share)
        else:
            _, if_ = _condition(rp)
            test = _el(if_, "and") if len(how.blanks) > 1 else if_
            for b in how.blanks:
                _blank_test(test, b)
            _set_score(if_)
    elif isinstance(how, schemas.OrderingIn):
        rp = _el(root, "responseProcessing")
        share = how.points / len(how.correct_order)
        for n, ident in enumerate(how.correct_order, start=1):
            _, if_ = _condition(rp)
            match = _el(if_, "match")
            _el(_el(match, "index", n=str(n)), "variable", identifier="RESPONSE")
            _el(match, "baseValue", ident, baseType="identifier")
            _set_score(if_, add=share)


def _blank_test(parent: Element, b: schemas.Blank) -> None:
    """True when blank ``b`` is right: an accepted answer (mapped above 0) or the pattern."""
    ok = _el(parent, "or") if (b.accepted and b.pattern) else parent
    if b.accepted:
        gt = _el(ok, "gt")
        _el(gt, "mapResponse", identifier=f"RESPONSE_{b.id}")
        _el(gt, "baseValue", "0", baseType="float")
    if b.pattern:
        pm = _el(ok, "patternMatch", pattern=b.pattern)
        _el(pm, "variable", identifier=f"RESPONSE_{b.id}")


def manifest_xml(title: str, items: list[tuple[str, str, list[str]]]) -> bytes:
    """``imsmanifest.xml`` listing ``(identifier, href, tags)`` items."""
    root = _el(
        None,
        "manifest",
        xmlns=CP_NS,
        **{"xmlns:imsmd": LOM_NS},
        identifier=f"MANIFEST-{uuid.uuid4()}",
    )
    meta = _el(root, "metadata")
    _el(meta, "schema", "QTIv2.1 Package")
    _el(meta, "schemaversion", "1.0.0")
    general = _el(_el(meta, "imsmd:lom"), "imsmd:general")
    _el(_el(general, "imsmd:title"), "imsmd:string", title)
    _el(root, "organizations")
    resources = _el(root, "resources")
    for ident, href, tags in items:
        res = _el(resources, "resource", identifier=ident, type=ITEM_TYPES[0], href=href)
        if tags:
            general = _el(_el(_el(res, "metadata"), "imsmd:lom"), "imsmd:general")
            for tag in tags:
                _el(_el(general, "imsmd:keyword"), "imsmd:string", tag)
        _el(res, "file", href=href)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()


def package(title: str, questions: list[schemas.QuestionDefinition]) -> bytes:
    """A QTI 2.1 content package (zip bytes) of ``questions``."""
    buffer = io.BytesIO()
    items = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, q in enumerate(questions, start=1):
            ident = f"Q{n:04d}"
            href = f"items/{ident}.xml"
            zf.writestr(href, item_xml(q, ident))
            items.append((ident, href, list(q.tags)))
        zf.writestr("imsmanifest.xml", manifest_xml(title, items))
    return buffer.getvalue()


async def export_qti(session: AsyncSession, actor: Actor, bank_id: uuid.UUID) -> bytes:
    exported = await interchange.export_bank(session, actor, bank_id)
    return package(exported.bank.title, exported.questions)


# == import ====================================================================================


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _all(el: Element, name: str) -> Iterator[Element]:
    return (c for c in el.iter() if _local(c.tag) == name)


def _ext(el: Element, name: str) -> str | None:
    return el.get(f"{{{SEM_NS}}}{name}")


def _text(el: Element, skip: frozenset[str] = frozenset({"feedbackInline"})) -> str:
    """The element's text, whitespace collapsed, without the subtrees named in ``skip``."""
    parts: list[str] = []

    def walk(e: Element) -> None:
        if e.text:
            parts.append(e.text)
        for c in e:
            if _local(c.tag) not in skip:
                walk(c)
            if c.tail:
                parts.append(c.tail)

    walk(el)
    return " ".join("".join(parts).split())


def _key(ident: str | None) -> str:
    ident = ident or ""
    if _KEY.match(ident):
        return ident
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", ident)[:40]
    if not cleaned:
        raise _Unsupported(f"an identifier is empty or unusable: {ident[:60]!r}")
    return cleaned


def _parse_xml(data: bytes, item: str) -> Element:
    if len(data) > MAX_XML_BYTES:
        raise _refuse(item, f"the XML is larger than {MAX_XML_BYTES} bytes")
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _refuse(item, f"forbidden XML construct ({type(exc).__name__})") from None
    except ParseError as exc:
        raise _refuse(item, f"not well-formed XML ({exc})") from None


_BLOCKS = frozenset(
    {
        "choiceInteraction",
        "orderInteraction",
        "matchInteraction",
        "associateInteraction",
        "extendedTextInteraction",
        "rubricBlock",
        "feedbackBlock",
        "hottextInteraction",
        "gapMatchInteraction",
        "inlineChoiceInteraction",
        "sliderInteraction",
        "uploadInteraction",
        "hotspotInteraction",
        "graphicOrderInteraction",
        "selectPointInteraction",
        "drawingInteraction",
        "mediaInteraction",
        "positionObjectStage",
        "customInteraction",
        "graphicAssociateInteraction",
        "graphicGapMatchInteraction",
        "templateBlock",
        "modalFeedback",
    }
)
_INTERACTIONS = frozenset(
    n for n in _BLOCKS if n.endswith("Interaction") or n == "positionObjectStage"
) | {"textEntryInteraction"}
_SUPPORTED = frozenset(
    {
        "choiceInteraction",
        "orderInteraction",
        "matchInteraction",
        "extendedTextInteraction",
        "textEntryInteraction",
    }
)
_VOID = frozenset({"br", "hr", "img", "col"})
_URL_ATTRS = frozenset({"href", "src", "data"})


def _html(el: Element, blanks: dict[str, str], out: list[str]) -> None:
    name = _local(el.tag)
    if name == "textEntryInteraction":
        out.append(f"[[{blanks.get(el.get('responseIdentifier', ''), '')}]]")
        return
    if name in _BLOCKS or name == "prompt" or name == "feedbackInline":
        return
    attrs = "".join(
        f' {_local(k)}="{escape(v)}"'
        for k, v in el.attrib.items()
        if "}" not in k
        and _local(k) in {"href", "src", "alt", "title", "class", "colspan", "rowspan"}
    )
    out.append(f"<{name}{attrs}>")
    _inner(el, blanks, out)
    if name not in _VOID:
        out.append(f"</{name}>")


def _inner(el: Element, blanks: dict[str, str], out: list[str]) -> None:
    if el.text:
        out.append(escape(el.text, quote=False))
    for c in el:
        _html(c, blanks, out)
        if c.tail:
            out.append(escape(c.tail, quote=False))


def _marked_text(el: Element, blanks: dict[str, str]) -> str:
    parts = [el.text or ""]
    for c in el:
        if _local(c.tag) == "textEntryInteraction":
            parts.append(f"[[{blanks.get(c.get('responseIdentifier', ''), '')}]]")
        else:
            parts.append(_marked_text(c, blanks))
        parts.append(c.tail or "")
    return "".join(parts)


def _prompt_of(body: Element, blanks: dict[str, str]) -> tuple[str, str]:
    """(prompt, format) from an itemBody."""
    for div in _all(body, "div"):
        cls = (div.get("class") or "").split()
        if "seminar-markdown" in cls:
            return _marked_text(div, blanks), "markdown"
        if "seminar-html" in cls:
            if len(div) == 0 or all(_local(c.tag) == "textEntryInteraction" for c in div):
                return _marked_text(div, blanks), "html"
            out: list[str] = []
            _inner(div, blanks, out)
            return "".join(out), "html"
    out = []
    _inner(body, blanks, out)
    for p in _all(body, "prompt"):
        out.append("<p>")
        _inner(p, blanks, out)
        out.append("</p>")
    return "".join(out).strip(), "html"


@dataclass
class _Item:
    name: str
    root: Element
    tags: list[str] = field(default_factory=list)


def _declarations(root: Element) -> dict[str, Element]:
    return {d.get("identifier", ""): d for d in _children(root, "responseDeclaration")}


def _correct(decl: Element | None) -> list[str]:
    if decl is None:
        return []
    return [
        (v.text or "").strip()
        for cr in _children(decl, "correctResponse")
        for v in _children(cr, "value")
    ]


def _map_entries(decl: Element | None) -> list[Element]:
    if decl is None:
        return []
    return [e for m in _children(decl, "mapping") for e in _children(m, "mapEntry")]


def _points(root: Element, decls: dict[str, Element]) -> float:
    for o in _children(root, "outcomeDeclaration"):
        if o.get("identifier") == "MAXSCORE":
            for dv in _children(o, "defaultValue"):
                for v in _children(dv, "value"):
                    try:
                        return float((v.text or "").strip())
                    except ValueError:
                        pass
    for d in decls.values():
        for m in _children(d, "mapping"):
            if m.get("upperBound"):
                try:
                    return float(m.get("upperBound", ""))
                except ValueError:
                    pass
    return 1.0


def _rp(root: Element) -> Element | None:
    found = _children(root, "responseProcessing")
    return found[0] if found else None


def _convert(item: _Item) -> dict[str, Any]:
    root = item.root
    if _local(root.tag) != "assessmentItem":
        raise _Unsupported(f"not an assessmentItem but {_local(root.tag)!r}")
    bodies = _children(root, "itemBody")
    if not bodies:
        raise _Unsupported("the item has no itemBody")
    body = bodies[0]
    interactions = [e for e in body.iter() if _local(e.tag) in _INTERACTIONS]
    if not interactions:
        raise _Unsupported("the item has no interaction")
    kinds = {_local(e.tag) for e in interactions}
    other = sorted(kinds - _SUPPORTED)
    if other:
        raise _Unsupported(f"unsupported interaction {other[0]}")
    if len(kinds) > 1:
        raise _Unsupported(f"interactions of several kinds in one item: {sorted(kinds)}")
    kind = kinds.pop()
    if kind != "textEntryInteraction" and len(interactions) > 1:
        raise _Unsupported(f"{len(interactions)} {kind}s in one item (Seminar has one)")
    decls = _declarations(root)
    scoring_ext = _ext(root, "scoring")
    common: dict[str, Any] = {"points": _points(root, decls), "tags": item.tags}
    feedback = [_text(f) for f in _children(root, "modalFeedback")]
    if any(feedback):
        common["feedback"] = " ".join(f for f in feedback if f)[:5000]
    inter = interactions[0]
    decl = decls.get(inter.get("responseIdentifier", ""))
    if decl is None and kind != "extendedTextInteraction":
        raise _Unsupported(f"no responseDeclaration for {inter.get('responseIdentifier')!r}")
    rp = _rp(root)

    def prompt(blanks: dict[str, str] | None = None) -> None:
        text, fmt = _prompt_of(body, blanks or {})
        common["prompt"] = text
        common["prompt_format"] = fmt

    def scoring(partial_default: bool) -> str:
        if scoring_ext in ("partial", "all_or_nothing"):
            return scoring_ext
        return "partial" if partial_default else "all_or_nothing"

    if kind == "choiceInteraction":
        assert decl is not None
        choices = _children(inter, "simpleChoice")
        ids = [_key(c.get("identifier")) for c in choices]
        correct = {_key(c) for c in _correct(decl)}
        mapped = {
            _key(e.get("mapKey")): float(e.get("mappedValue", "0")) for e in _map_entries(decl)
        }
        if not correct and mapped:
            correct = {k for k, v in mapped.items() if v > 0}
        texts = [_text(c) for c in choices]
        single = decl.get("cardinality") == "single" or inter.get("maxChoices") == "1"
        prompt()
        if single and len(choices) == 2 and {t.lower() for t in texts} == {"true", "false"}:
            true_id = ids[[t.lower() for t in texts].index("true")]
            return {**common, "type": "true_false", "correct": true_id in correct}
        options = []
        for c, i, t in zip(choices, ids, texts, strict=True):
            fb = " ".join(_text(f) for f in _children(c, "feedbackInline"))
            options.append({"id": i, "text": t, "correct": i in correct, "feedback": fb[:5000]})
        shuffle = inter.get("shuffle", "false") == "true"
        if single:
            return {**common, "type": "single_choice", "options": options, "shuffle": shuffle}
        return {
            **common,
            "type": "multiple_choice",
            "options": options,
            "shuffle": shuffle,
            "scoring": scoring(bool(mapped)),
        }
    if kind == "textEntryInteraction":
        assert decl is not None
        if decl.get("baseType") in ("float", "integer"):
            if len(interactions) > 1:
                raise _Unsupported("several numeric text entries in one item")
            values = _correct(decl)
            if not values:
                raise _Unsupported("a numeric entry without a correctResponse")
            try:
                answer = float(values[0])
            except ValueError:
                raise _Unsupported(f"the numeric answer {values[0][:40]!r} is no number") from None
            tolerance, mode = 0.0, "absolute"
            for eq in _all(rp, "equal") if rp is not None else ():
                tmode = eq.get("toleranceMode", "exact")
                if tmode in ("absolute", "relative"):
                    try:
                        tolerance = float((eq.get("tolerance") or "0").split()[0])
                    except (ValueError, IndexError):
                        raise _Unsupported("a tolerance that is no number") from None
                    mode = "absolute" if tmode == "absolute" else "percent"
                break
            prompt()
            return {
                **common,
                "type": "numeric",
                "answer": answer,
                "tolerance": tolerance,
                "tolerance_mode": mode,
            }
        if decl.get("baseType") != "string":
            raise _Unsupported(f"a text entry of baseType {decl.get('baseType')!r}")
        names: dict[str, str] = {}
        blanks = []
        patterns: dict[str, str] = {}
        if rp is not None:
            for pm in _all(rp, "patternMatch"):
                for v in _all(pm, "variable"):
                    patterns.setdefault(v.get("identifier", ""), pm.get("pattern", ""))
        for e in interactions:
            rid = e.get("responseIdentifier", "")
            d = decls.get(rid)
            if d is None or d.get("baseType") != "string":
                raise _Unsupported(f"text entry {rid!r} is not a declared string response")
            bid = _key(rid.removeprefix("RESPONSE_") or rid)
            names[rid] = bid
            entries = _map_entries(d)
            accepted = [
                e2.get("mapKey", "") for e2 in entries if float(e2.get("mappedValue", "0")) > 0
            ]
            for value in _correct(d):
                if value and value not in accepted:
                    accepted.append(value)
            case_ext = _ext(e, "caseSensitive")
            case = (
                (case_ext == "true")
                if case_ext is not None
                else any(e2.get("caseSensitive") == "true" for e2 in entries)
            )
            blank: dict[str, Any] = {
                "id": bid,
                "accepted": accepted,
                "case_sensitive": case,
                "normalize_whitespace": _ext(e, "normalizeWhitespace") != "false",
            }
            if patterns.get(rid):
                blank["pattern"] = patterns[rid]
            blanks.append(blank)
        prompt(names)
        return {
            **common,
            "type": "fill_in_blank",
            "blanks": blanks,
            "scoring": scoring(True),
        }
    if kind == "matchInteraction":
        assert decl is not None
        sets = _children(inter, "simpleMatchSet")
        if len(sets) != 2:
            raise _Unsupported("a matchInteraction without exactly two simpleMatchSets")
        left = [
            {"id": _key(c.get("identifier")), "text": _text(c)}
            for c in _children(sets[0], "simpleAssociableChoice")
        ]
        right = [
            {"id": _key(c.get("identifier")), "text": _text(c)}
            for c in _children(sets[1], "simpleAssociableChoice")
        ]
        pairs: dict[str, str] = {}
        pair_entries = _map_entries(decl)
        keys = _correct(decl) or [
            e.get("mapKey", "") for e in pair_entries if float(e.get("mappedValue", "0")) > 0
        ]
        for pair in keys:
            parts = pair.split()
            if len(parts) != 2:
                raise _Unsupported(f"a directedPair {pair[:60]!r} is not two identifiers")
            pairs[_key(parts[0])] = _key(parts[1])
        prompt()
        return {
            **common,
            "type": "matching",
            "prompts": left,
            "choices": right,
            "pairs": pairs,
            "shuffle": inter.get("shuffle", "false") == "true",
            "scoring": scoring(bool(pair_entries)),
        }
    if kind == "orderInteraction":
        assert decl is not None
        items = [
            {"id": _key(c.get("identifier")), "text": _text(c)}
            for c in _children(inter, "simpleChoice")
        ]
        prompt()
        has_index = rp is not None and any(True for _ in _all(rp, "index"))
        return {
            **common,
            "type": "ordering",
            "items": items,
            "correct_order": [_key(c) for c in _correct(decl)],
            "scoring": scoring(has_index),
        }
    # extendedTextInteraction
    prompt()
    notes = " ".join(
        _text(r) for r in _all(body, "rubricBlock") if "scorer" in (r.get("view") or "")
    )
    essay: dict[str, Any] = {**common, "type": "essay", "grader_notes": notes[:5000]}
    for attr, name in (("minWords", "min_words"), ("maxWords", "max_words")):
        raw = _ext(inter, attr)
        if raw is not None:
            try:
                essay[name] = int(raw)
            except ValueError:
                raise _Unsupported(f"seminar:{attr} {raw[:20]!r} is no integer") from None
    return essay


def _safe_href(href: str) -> str | None:
    """The package path of a manifest href, or None if it could leave the package."""
    if not href or "\\" in href or "\x00" in href or href.startswith("/") or ":" in href:
        return None
    path = posixpath.normpath(href.split("#", 1)[0])
    if path.startswith("../") or path == ".." or path.startswith("/") or path == ".":
        return None
    if any(part == ".." for part in href.split("/")):
        return None
    return path


def _read_member(zf: zipfile.ZipFile, name: str, budget: list[int]) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise _refuse(name, f"larger than {MAX_XML_BYTES} bytes")
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_XML_BYTES + 1)
    except (
        zipfile.BadZipFile,
        RuntimeError,
        NotImplementedError,
        EOFError,
        zlib.error,
        OSError,
    ) as exc:
        raise _refuse(name, f"cannot be read from the zip ({exc})") from None
    if len(data) > MAX_XML_BYTES:
        raise _refuse(name, f"larger than {MAX_XML_BYTES} bytes")
    budget[0] -= len(data)
    if budget[0] < 0:
        raise _refuse("<package>", f"more than {MAX_TOTAL_BYTES} bytes uncompressed")
    return data


def _items_of(data: bytes) -> list[_Item]:
    if len(data) > MAX_PACKAGE_BYTES:
        raise _refuse("<package>", f"larger than {MAX_PACKAGE_BYTES} bytes")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _package_items(data)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return [_Item("item.xml", _parse_xml(data, "item.xml"))]
    raise _refuse("<package>", "neither a zip (a QTI content package) nor an XML document")


def _package_items(data: bytes) -> list[_Item]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        raise _refuse("<package>", f"not a readable zip ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _refuse("<package>", f"more than {MAX_MEMBERS} files in the zip")
        names = {i.filename for i in infos}
        if "imsmanifest.xml" not in names:
            raise _refuse("<package>", "no imsmanifest.xml at the top of the zip")
        budget = [MAX_TOTAL_BYTES]
        manifest = _parse_xml(_read_member(zf, "imsmanifest.xml", budget), "imsmanifest.xml")
        items: list[_Item] = []
        for res in _all(manifest, "resource"):
            if not (res.get("type") or "").startswith(ITEM_TYPES):
                continue
            href = res.get("href") or next(
                (f.get("href") or "" for f in _children(res, "file")), ""
            )
            path = _safe_href(href)
            if path is None:
                raise _refuse(href[:200] or "<resource>", "the href leaves the package")
            if path not in names:
                raise _refuse(path, "listed in the manifest but not in the zip")
            tags = [
                _text(s) for kw in _all(res, "keyword") for s in _children(kw, "string") if _text(s)
            ]
            items.append(_Item(path, _parse_xml(_read_member(zf, path, budget), path), tags))
            if len(items) > interchange.MAX_IMPORT:
                raise _refuse("<package>", f"more than {interchange.MAX_IMPORT} items")
    if not items:
        raise _refuse("<package>", "the manifest lists no QTI 2.1 item")
    return items


def parse_package(data: bytes) -> list[schemas.QuestionDefinition]:
    """The questions of a QTI package or item; ``QtiInvalid`` naming every item at fault."""
    try:
        items = _items_of(data)
    except RecursionError:
        raise _refuse("imsmanifest.xml", "the XML is nested too deeply") from None
    valid: list[schemas.QuestionDefinition] = []
    problems: list[dict[str, Any]] = []
    for item in items:
        try:
            raw = _convert(item)
        except _Unsupported as exc:
            problems.append({"item": item.name, "reason": str(exc)})
            continue
        except ValueError as exc:  # a mappedValue that is no number, for one
            problems.append({"item": item.name, "reason": f"a value is not valid ({exc})"})
            continue
        except RecursionError:
            problems.append({"item": item.name, "reason": "the XML is nested too deeply"})
            continue
        try:
            valid.append(_definition.validate_python(raw))
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'question'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            problems.append({"item": item.name, "reason": reasons[:1000]})
    if problems:
        first = problems[0]
        raise QtiInvalid(
            f"{len(problems)} of {len(items)} items cannot be imported "
            f"({first['item']}: {first['reason'][:200]}); nothing was imported.",
            extra={"item_errors": problems},
        )
    return valid


async def import_qti(
    session: AsyncSession, actor: Actor, bank_id: uuid.UUID, data: bytes
) -> list[Question]:
    """All or nothing, as the JSON import: every item converted and validated first."""
    await service.bank_for(session, actor, bank_id, edit=True)
    return await add_questions(session, actor, bank_id, parse_package(data))


async def add_questions(
    session: AsyncSession,
    actor: Actor,
    bank_id: uuid.UUID,
    definitions: list[schemas.QuestionDefinition],
) -> list[Question]:
    """Append ``definitions`` (from ``parse_package``) to the bank, in the package's order."""
    bank = await service.bank_for(session, actor, bank_id, edit=True, for_update=True)
    await service.require_room(session, bank, len(definitions))
    rows = [service.new_question(bank, actor, d) for d in definitions]
    start = utcnow()
    for i, row in enumerate(rows):
        row.created_at = row.updated_at = start + timedelta(microseconds=i)
    session.add_all(rows)
    await session.flush()
    return rows
