"""The temporary database an index spills to once it outgrows memory.

It is SQLite's own temporary database (opened with an empty file name): private to its
connection, in a file that SQLite creates owner-only and unlinks at once, so no other process
can open it by name, and gone when the connection closes. Unlike a database in a named file,
its pages stay in SQLite's page cache across commits and go to disk only when the cache fills
(a commit writes them out only once much of the cache is dirty). A database in a named file
writes every page a transaction dirtied at each commit; with an index that commits every few
thousand rows and whose keys are spread across its B-trees, that is most of its pages each time.

See https://www.sqlite.org/inmemorydb.html ("Temporary Databases") and
https://www.sqlite.org/tempfiles.html ("TEMP Databases"). SQLite puts the file in
``SQLITE_TMPDIR`` or ``TMPDIR`` when set, else in ``/var/tmp`` or ``/tmp``.
"""

from __future__ import annotations

import sqlite3

#: Pages of SQLite's cache for each scratch database, in KiB (a negative ``cache_size``).
CACHE_KIB = 2_048

#: Bytes in a page. The indexes' keys are hashes, so each row lands on its own page of each
#: index and every page the cache lets go of is written whole: small pages write less (on
#: 8 x 10,000 claims the whole run wrote 607 MB with 1 KiB pages, 1,031 MB with SQLite's 4 KiB).
PAGE_BYTES = 1_024


def scratch_database(schema: str) -> sqlite3.Connection:
    """A new temporary database holding ``schema``, in autocommit mode (the caller groups
    its writes with ``BEGIN`` and ``COMMIT``); nothing of it outlives :meth:`close`."""
    db = sqlite3.connect("", isolation_level=None)
    db.execute(f"PRAGMA page_size={PAGE_BYTES}")  # (before the first table)
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    db.execute("PRAGMA journal_mode=OFF")  # (nothing is ever rolled back)
    db.executescript(schema)
    return db
