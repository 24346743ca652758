"""Consent: changes and the ledger, the centre, sign-up, unsubscribe, recording, imports."""
