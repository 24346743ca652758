"""Speed and load figures, run by `make bench` (never by `make test`)."""
