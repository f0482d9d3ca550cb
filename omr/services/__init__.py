"""Operations on stored data shared by the command line, the web application and workers.

Each raises ``ServiceError`` (or a subclass) for a user's mistake: its message is one Vietnamese line
fit to show as it is.
"""


class ServiceError(Exception):
    """A user's mistake or a refused operation; ``str(e)`` is the message to show."""


class NotFound(ServiceError):
    """An unknown unit, form, user or page."""
