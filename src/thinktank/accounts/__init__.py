"""Accounts: API keys (encrypted), budgets and, later, sign-in and retention."""
