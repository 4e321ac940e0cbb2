"""Payments: Stripe Checkout for paid courses, idempotent webhooks, orders and the revenue ledger."""
