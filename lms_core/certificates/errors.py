"""Why a certificate request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, Gone, NotFound, PermissionDenied

__all__ = [
    "AdminRequired",
    "CertificateAlreadyRevoked",
    "CertificateNotFound",
    "CertificateRevoked",
    "NotYourCertificate",
]


class CertificateNotFound(NotFound):
    default_code = "certificate_not_found"
    default_detail = "No certificate has this code."


class NotYourCertificate(PermissionDenied):
    # The certificate itself is public (its verification page); its PDF is its student's.
    default_code = "not_your_certificate"
    default_detail = "Only the certificate's student (or an administrator) downloads its PDF."


class AdminRequired(PermissionDenied):
    default_code = "admin_required"
    default_detail = "Administrators only."


class CertificateRevoked(Gone):
    # A revoked certificate still verifies (as revoked), but its PDF would present it as valid
    # to anyone shown the file: only administrators keep access to it, for the record.
    default_code = "certificate_revoked"
    default_detail = "This certificate was revoked; its PDF is no longer available."


class CertificateAlreadyRevoked(Conflict):
    default_code = "certificate_already_revoked"
    default_detail = "This certificate is already revoked."
