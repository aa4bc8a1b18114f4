"""Recordings turned into pictures and movies (GIF, MP4, PNG), in the order of the data path:
style (colours, type) -> bodies (one run's frame, by kind) -> animation (the figure over time)
-> writers (files) -> export (the entry points). Here: ExportError, the one error they raise."""


class ExportError(ValueError):
    """Bad export input (path, suffix, empty recording); the message names the problem."""
