"""Integrations: API clients, idempotency, lookups, events, the feed, webhooks and where
they may go."""
