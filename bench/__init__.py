"""Speed targets, measured by `make bench` (never by timed tests)."""
