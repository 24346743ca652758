"""Integrations: API clients, idempotency, lookups, events, the feed, webhooks."""
