"""Import: QTI 2.1 items and packages, untrusted bytes, to Seminar question definitions."""

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
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.question_banks import interchange, schemas, service
from lms_core.question_banks.models import Question
from lms_core.question_banks.qti.common import (
    _KEY,
    ITEM_TYPES,
    MAX_MEMBERS,
    MAX_PACKAGE_BYTES,
    MAX_TOTAL_BYTES,
    MAX_XML_BYTES,
    SEM_NS,
    QtiInvalid,
    _definition,
    _refuse,
    _Unsupported,
)


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
