"""Tables of integrations: API clients, idempotency records, webhooks, events."""
