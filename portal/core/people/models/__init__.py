"""Tables of people: subjects, profiles, sign-in links, erasure records."""
