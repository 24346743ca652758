"""Mail: the outbox, composing the portal's mails, topic mails, and what goes on the wire."""
