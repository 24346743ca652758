"""Integrations with other systems: API clients, events, webhooks and where they may go."""
