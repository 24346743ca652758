"""People of a site group: how they sign in and what is kept about them (passkeys so far)."""
