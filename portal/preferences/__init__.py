"""The multi-brand preference centre: passwordless access, every brand, one-click leaving."""
