"""Errors the core raises for input it refuses; views turn them into form messages."""


class InvalidInput(ValueError):
    """A value a person or client gave is not acceptable; ``field`` names which one."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The thing asked for does not exist in this site group."""


class Forbidden(PermissionError):
    """The caller may not do this here (an API client outside its scopes or brands)."""


class Refused(Exception):
    """The request is understood and allowed, but the state of things forbids it."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class InvalidFields(ValueError):
    """Several values of one form are not acceptable; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors
