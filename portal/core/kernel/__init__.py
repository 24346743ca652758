"""What every part of the core stands on: transactions, clock, errors, crypto, leases."""
