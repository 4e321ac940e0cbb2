"""Outgoing email: a transactional outbox table, delivered by a transport.

Every message is first written to ``mail_outbox`` in the caller's transaction, so a message
exists if and only if the change that caused it committed. With no SMTP server configured the
outbox (plus a log line) is the end of the road, which is what a development machine wants;
with SMTP configured the dispatcher delivers pending rows and retries with backoff.
"""
