"""Accounts: users and roles, passwords, browser sessions, personal access tokens, email tokens."""
