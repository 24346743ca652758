"""Self-service data: see, correct, download, withdraw and erase (GDPR Art. 15-17, 20)."""
