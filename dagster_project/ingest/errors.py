"""Errors that make a whole landing file unreadable."""


class IngestError(Exception):
    """A landing file cannot be read at all; the message names the file, the cause and the fix."""
