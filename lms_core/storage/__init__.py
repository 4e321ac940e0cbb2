"""File storage: the ``Storage`` port (port.py), a local-directory adapter (local.py), an S3
adapter (s3.py), content-type sniffing (sniff.py) and filename hygiene (filenames.py)."""

from lms_core.storage.port import (
    MAX_PRESIGN_SECONDS,
    ObjectStream,
    PresignedUpload,
    Storage,
    StoredObject,
    validate_key,
)

__all__ = [
    "MAX_PRESIGN_SECONDS",
    "ObjectStream",
    "PresignedUpload",
    "Storage",
    "StoredObject",
    "validate_key",
]
