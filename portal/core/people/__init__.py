"""People: subjects, their profile, ways in, address change, their data, export, erasure."""
