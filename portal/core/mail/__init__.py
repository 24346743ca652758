"""Mail: the outbox, composing the portal's mails, topic mails."""
