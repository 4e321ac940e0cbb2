"""What the QTI writer and reader share: namespaces, limits, the import error."""

from __future__ import annotations

import re

from pydantic import TypeAdapter

from lms_core.errors import InvalidInput
from lms_core.question_banks import schemas

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
