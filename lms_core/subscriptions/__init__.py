"""The platform plan: a Stripe Billing subscription giving access to every course marked
"included in subscription"."""
