"""Instructor payouts: Stripe Connect Express accounts and scheduled transfers of earned shares."""
