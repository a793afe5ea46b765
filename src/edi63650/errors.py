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
