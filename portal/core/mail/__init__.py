"""Mail: composing, the outbox and what goes on the wire."""
