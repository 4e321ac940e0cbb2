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

from lms_core.question_banks.qti.common import (
    MAX_MEMBERS,
    MAX_PACKAGE_BYTES,
    MAX_TOTAL_BYTES,
    MAX_XML_BYTES,
    QtiInvalid,
)
from lms_core.question_banks.qti.reader import add_questions, import_qti, parse_package
from lms_core.question_banks.qti.writer import export_qti, item_xml, manifest_xml, package

__all__ = [
    "MAX_MEMBERS",
    "MAX_PACKAGE_BYTES",
    "MAX_TOTAL_BYTES",
    "MAX_XML_BYTES",
    "QtiInvalid",
    "add_questions",
    "export_qti",
    "import_qti",
    "item_xml",
    "manifest_xml",
    "package",
    "parse_package",
]
