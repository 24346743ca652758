"""Tables of kernel: column types; the site group, its brands, topics and texts."""
