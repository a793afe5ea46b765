"""Our own interchange control numbers: each reply interchange (277CA, 999, TA1) takes the next
one for its ISA13 and GS06, never the inbound ones (those are referenced only where the guides
say: AK1-02, AK2-02, TRN, REF).

:class:`Counter` counts up in memory from a start, for one run; :class:`StoredNumbers` keeps
the last number taken in SQLite (the history store, the watch journal or a file of its own), so
numbers stay unique and keep counting up across runs and processes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

#: ISA13 is nine digits (X12 I12); after the last, numbering starts again at 1.
LAST = 999_999_999


class ControlNumbers(Protocol):
    """Where reply interchanges take their control numbers from."""

    def take(self) -> int:
        """The next number (1 to :data:`LAST`)."""
        ...


class Counter:
    """Numbers counting up from ``start``, in memory."""

    def __init__(self, start: int = 1) -> None:
        self._next = _in_range(start)

    def take(self) -> int:
        number = self._next
        self._next = number % LAST + 1
        return number


class StoredNumbers:
    """Numbers kept in the SQLite file at ``path`` (table ``control_numbers``), taken one at a
    time in their own transaction, so two processes never take the same one. ``start``: the
    lowest number to take next (a counter is moved forward to it, never back)."""

    def __init__(self, path: Path, *, start: int = 1, name: str = "replies") -> None:
        # Used by one thread at a time, not always the one that opened it (a watcher's).
        self._db = sqlite3.connect(
            str(path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self._name = name
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS control_numbers (name TEXT PRIMARY KEY, last INTEGER "
            "NOT NULL)"
        )
        floor = _in_range(start) - 1
        self._db.execute("INSERT OR IGNORE INTO control_numbers VALUES (?, ?)", (name, floor))
        self._db.execute(
            "UPDATE control_numbers SET last = ? WHERE name = ? AND last < ?", (floor, name, floor)
        )

    def take(self) -> int:
        row = self._db.execute(
            "UPDATE control_numbers SET last = CASE WHEN last >= ? THEN 1 ELSE last + 1 END "
            "WHERE name = ? RETURNING last",
            (LAST, self._name),
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()


def _in_range(number: int) -> int:
    return min(max(number, 1), LAST)
