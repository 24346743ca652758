"""Lite registration: a brand's sign-up page, the double opt-in confirmation, the group home."""
