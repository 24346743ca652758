"""Passkeys in the preference centre: add, list and remove them; sign in with one."""
