"""The domain: subjects, consent ledger, outbox. Knows nothing of HTTP.

Every table is registered on first import of the core, so relationships named by string
(``relationship("Event")``) always resolve, whichever module is imported first.
"""

from portal.core import tables  # noqa: F401
