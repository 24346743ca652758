"""Errors the core raises for input it refuses; views turn them into form messages."""


class InvalidInput(ValueError):
    """A value a person or client gave is not acceptable; ``field`` names which one."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The thing asked for does not exist in this site group."""


class InvalidFields(ValueError):
    """Several values of one form are not acceptable; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors
