"""The one exception type the library raises.

Bad input never raises: it produces findings. :class:`EdiError` is raised only for misuse of the
API (feeding a closed reader) or for a broken installation (a map that fails its schema).
"""

from __future__ import annotations


class EdiError(Exception):
    """Base class of every exception edi63650 raises on purpose."""


class EdiUsageError(EdiError):
    """The library was called in a way it does not support."""


class MapError(EdiError):
    """A file in ``maps/`` is missing, malformed or fails its schema; names file and line."""


def binary_stream(stream: object, what: str) -> None:
    """Raise :class:`EdiUsageError` unless ``stream`` can be read (a binary file, a BytesIO):
    a path or bytes given instead say what to call."""
    if isinstance(stream, bytes | bytearray):
        raise EdiUsageError(f"{what} takes a binary stream; for bytes use io.BytesIO(data)")
    if isinstance(stream, str) or hasattr(stream, "__fspath__"):
        raise EdiUsageError(
            f"{what} takes a binary stream, not a path: open(path, 'rb'), or use validate(path)"
        )
    if not callable(getattr(stream, "read", None)):
        raise EdiUsageError(f"{what} takes a binary stream, not {type(stream).__name__}")
