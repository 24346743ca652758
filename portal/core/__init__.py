"""The domain: subjects, consent ledger, outbox. Knows nothing of HTTP."""
