"""Payments: Stripe Checkout for paid courses, idempotent webhooks, orders, the ledger."""
