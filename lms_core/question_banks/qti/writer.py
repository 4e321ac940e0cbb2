"""Export: a bank as a QTI 2.1 content package (see the package docstring for the mapping)."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.question_banks import interchange, schemas
from lms_core.question_banks.qti.common import (
    _MARKER,
    CP_NS,
    ITEM_TYPES,
    LOM_NS,
    QTI_NS,
    QTI_XSD,
    SEM_NS,
    TEMPLATE,
    XSI_NS,
)


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
