"""The one base class of every error the project raises on purpose; entry points catch it alone."""


class LookalikeError(Exception):
    """A problem a person can fix; the message says what it is and what to do."""
