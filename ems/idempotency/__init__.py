"""Idempotency keys: a retried write answers with the first attempt's response."""
