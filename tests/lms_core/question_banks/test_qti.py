"""QTI 2.1: every type out and back in, items written by other systems, and the refusals."""

from __future__ import annotations

import io
import zipfile

import pytest

from lms_core.question_banks import qti, schemas
from lms_core.question_banks.models import QuestionType
from tests.lms_core.question_banks.samples import SAMPLES, question

# As Moodle's QTI 2.1 export writes a single choice: the prompt in the interaction's <prompt>,
# the match_correct template (1 point), an XHTML body.
MOODLE_CHOICE = b"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imsqti_v2p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
    identifier="moodle_q_1234" title="Planets" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>ChoiceB</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float">
    <defaultValue><value>0</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <p>Look at the <strong>solar system</strong>.</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">
      <prompt>Which planet is the largest?</prompt>
      <simpleChoice identifier="ChoiceA">Mars</simpleChoice>
      <simpleChoice identifier="ChoiceB">Jupiter</simpleChoice>
      <simpleChoice identifier="ChoiceC">Venus</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing
      template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>
"""

# As Canvas-style tools write a text entry: a mapping of accepted answers, the blank inline in
# the body's text, map_response.
CANVAS_TEXT_ENTRY = b"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
    identifier="g5f1c2d7e" title="Capital" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE_1" cardinality="single" baseType="string">
    <correctResponse><value>Canberra</value></correctResponse>
    <mapping defaultValue="0" upperBound="2">
      <mapEntry mapKey="Canberra" mappedValue="2" caseSensitive="false"/>
      <mapEntry mapKey="Canberra, ACT" mappedValue="2" caseSensitive="false"/>
    </mapping>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <p>The capital of Australia is <textEntryInteraction responseIdentifier="RESPONSE_1"
        expectedLength="15"/>.</p>
  </itemBody>
  <responseProcessing
      template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/map_response"/>
  <modalFeedback outcomeIdentifier="FEEDBACK" identifier="fb" showHide="show"
    >Not Sydney.</modalFeedback>
</assessmentItem>
"""

HOTSPOT = b"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="hs"
    title="Where" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier"/>
  <itemBody>
    <hotspotInteraction responseIdentifier="RESPONSE" maxChoices="1">
      <object type="image/png" data="map.png"/>
      <hotspotChoice identifier="A" shape="circle" coords="10,10,5"/>
    </hotspotInteraction>
  </itemBody>
</assessmentItem>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x" title="&lol3;"
    adaptive="false" timeDependent="false"/>
"""


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _manifest(*hrefs: str) -> bytes:
    resources = "".join(
        f'<resource identifier="R{i}" type="imsqti_item_xmlv2p1" href="{h}">'
        f'<file href="{h}"/></resource>'
        for i, h in enumerate(hrefs)
    )
    return (
        '<?xml version="1.0"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
        f'identifier="M"><organizations/><resources>{resources}</resources></manifest>'
    ).encode()


def _refused(data: bytes) -> list[dict[str, str]]:
    with pytest.raises(qti.QtiInvalid) as caught:
        qti.parse_package(data)
    assert caught.value.code == "qti_invalid"
    errors: list[dict[str, str]] = caught.value.extra["item_errors"]
    assert errors
    return errors


def test_every_type_round_trips() -> None:
    originals = [question(kind) for kind in SAMPLES]
    data = qti.package("A bank", originals)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        manifest = zf.read("imsmanifest.xml").decode()
    assert "imsmanifest.xml" in names
    assert len([n for n in names if n.startswith("items/")]) == len(originals)
    assert manifest.count('type="imsqti_item_xmlv2p1"') == len(originals)
    back = qti.parse_package(data)
    assert [q.type for q in back] == [q.type for q in originals]
    for original, imported in zip(originals, back, strict=True):
        assert imported.model_dump() == original.model_dump(), original.type


@pytest.mark.parametrize(
    "change",
    [
        {"scoring": "all_or_nothing"},
        {"prompt_format": "html", "prompt": "<p>Pick <em>one</em></p>"},
        {"shuffle": False, "points": 2.5},
    ],
)
def test_variants_round_trip(change: dict[str, object]) -> None:
    for kind in (QuestionType.MULTIPLE_CHOICE, QuestionType.MATCHING, QuestionType.ORDERING):
        data = {**SAMPLES[kind], **change}
        if kind is QuestionType.ORDERING:
            data.pop("shuffle", None)
        original = schemas.QuestionIn.model_validate(data).root
        (back,) = qti.parse_package(qti.item_xml(original, "Q1"))
        # A lone item has no manifest, which carries the tags.
        assert back.model_dump(exclude={"tags"}) == original.model_dump(exclude={"tags"})


def test_fill_in_blank_options_round_trip() -> None:
    data = {
        **SAMPLES[QuestionType.FILL_IN_BLANK],
        "scoring": "all_or_nothing",
        "blanks": [
            {"id": "city", "accepted": ["Paris"], "case_sensitive": True},
            {"id": "sum", "pattern": "[0-9]+", "normalize_whitespace": False},
        ],
    }
    original = schemas.QuestionIn.model_validate(data).root
    (back,) = qti.parse_package(qti.item_xml(original, "Q1"))
    assert back.model_dump() == original.model_dump()
    percent = schemas.QuestionIn.model_validate(
        {**SAMPLES[QuestionType.NUMERIC], "tolerance": 5, "tolerance_mode": "percent"}
    ).root
    (back,) = qti.parse_package(qti.item_xml(percent, "Q1"))
    assert back.model_dump() == percent.model_dump()


def test_moodle_choice_item() -> None:
    (q,) = qti.parse_package(MOODLE_CHOICE)
    assert isinstance(q, schemas.SingleChoiceIn)
    assert [(o.id, o.text, o.correct) for o in q.options] == [
        ("ChoiceA", "Mars", False),
        ("ChoiceB", "Jupiter", True),
        ("ChoiceC", "Venus", False),
    ]
    assert q.points == 1.0
    assert q.shuffle
    assert q.prompt_format == "html"
    assert "<strong>solar system</strong>" in q.prompt
    assert "Which planet is the largest?" in q.prompt


def test_canvas_text_entry_item_in_a_package() -> None:
    data = _zip(
        {"imsmanifest.xml": _manifest("quiz/item1.xml"), "quiz/item1.xml": CANVAS_TEXT_ENTRY}
    )
    (q,) = qti.parse_package(data)
    assert isinstance(q, schemas.FillInBlankIn)
    (blank,) = q.blanks
    assert blank.id == "1"
    assert blank.accepted == ["Canberra", "Canberra, ACT"]
    assert not blank.case_sensitive
    assert q.points == 2.0
    assert q.feedback == "Not Sydney."
    assert "The capital of Australia is [[1]]." in q.prompt


def test_true_false_from_two_choices() -> None:
    item = MOODLE_CHOICE.replace(b">Mars<", b">True<").replace(b">Jupiter<", b">False<")
    item = item.replace(b'<simpleChoice identifier="ChoiceC">Venus</simpleChoice>', b"")
    (q,) = qti.parse_package(item)
    assert isinstance(q, schemas.TrueFalseIn)
    assert q.correct is False


def test_not_a_package() -> None:
    (error,) = _refused(b"%PDF-1.4 not a zip")
    assert error["item"] == "<package>"
    assert "neither a zip" in error["reason"]
    assert "zip" in _refused(b"PK\x03\x04broken")[0]["reason"]


def test_too_many_members() -> None:
    files = {f"junk/{i}.txt": b"" for i in range(qti.MAX_MEMBERS + 1)}
    files["imsmanifest.xml"] = _manifest()
    assert "files in the zip" in _refused(_zip(files))[0]["reason"]


def test_a_big_member_is_not_read() -> None:
    files = {"imsmanifest.xml": _manifest("a.xml"), "a.xml": b"<a>" + b" " * qti.MAX_XML_BYTES}
    (error,) = _refused(_zip(files))
    assert error["item"] == "a.xml"
    assert "larger than" in error["reason"]


@pytest.mark.parametrize(
    "href", ["../outside.xml", "/etc/passwd", "items/../../x.xml", "C:\\x.xml", "http://e/x"]
)
def test_manifest_paths_stay_in_the_package(href: str) -> None:
    files = {"imsmanifest.xml": _manifest(href), "x.xml": MOODLE_CHOICE}
    assert "leaves the package" in _refused(_zip(files))[0]["reason"]


def test_missing_member() -> None:
    files = {"imsmanifest.xml": _manifest("nope.xml")}
    assert "not in the zip" in _refused(_zip(files))[0]["reason"]


def test_entity_expansion_is_refused() -> None:
    (error,) = _refused(BILLION_LAUGHS)
    assert "forbidden XML" in error["reason"]
    files = {"imsmanifest.xml": _manifest("a.xml"), "a.xml": BILLION_LAUGHS}
    assert _refused(_zip(files))[0]["item"] == "a.xml"
    # In the manifest too.
    assert _refused(_zip({"imsmanifest.xml": BILLION_LAUGHS}))[0]["item"] == "imsmanifest.xml"


def test_unsupported_interaction_is_reported_per_item_and_nothing_imported() -> None:
    files = {
        "imsmanifest.xml": _manifest("ok.xml", "hs.xml"),
        "ok.xml": MOODLE_CHOICE,
        "hs.xml": HOTSPOT,
    }
    errors = _refused(_zip(files))
    assert errors == [{"item": "hs.xml", "reason": "unsupported interaction hotspotInteraction"}]


def test_an_invalid_converted_item_is_reported() -> None:
    no_key = MOODLE_CHOICE.replace(b"<value>ChoiceB</value>", b"")
    (error,) = _refused(no_key)
    assert error["item"] == "item.xml"
    assert "exactly one option must be correct" in error["reason"]


def test_not_well_formed() -> None:
    assert "not well-formed" in _refused(b"<assessmentItem>")[0]["reason"]


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep = MOODLE_CHOICE.replace(
        b"<p>Look at", b"<div>" * 50_000 + b"x" + b"</div>" * 50_000 + b"<p>Look at"
    )
    (error,) = _refused(deep)
    assert error["item"] == "item.xml"
