"""Certificates of completion: issued by a background job as a PDF with a verification code
and QR code, verified publicly, revoked by admins."""
