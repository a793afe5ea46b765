"""The files written for an input: NAME.277, .999, .json, .html and .accepted.837.

Outputs are written to a temporary name and renamed into place, with owner-only permissions:
they hold patient data like the 837 itself. Nothing is in place until the pass succeeded.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO, BinaryIO

from edi63650.validate import Summary, Validator
from edi63650.writers.accepted import AcceptedSink
from edi63650.writers.ack277 import Ack277Sink
from edi63650.writers.ack999 import Ack999Sink
from edi63650.writers.numbers import ControlNumbers, Counter
from edi63650.writers.report_html import COMPACT_ABOVE, HtmlSink
from edi63650.writers.report_json import JsonSink
from edi63650.writers.sink import Sink


class AtomicFile:
    """An output written whole or not at all: a temporary owner-only file beside ``path``,
    flushed to disk and renamed onto ``path`` by :meth:`commit`; :attr:`size` counts what was
    written through it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self._temporary = Path(name)
        self._file: IO[bytes] = os.fdopen(handle, "wb")
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return self._file.write(data)

    def commit(self, *, keep: bool = True) -> None:
        """Rename into place (or, with ``keep`` false, leave nothing behind)."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if keep:
                self._temporary.chmod(0o600)
                self._temporary.replace(self.path)
                return
        except BaseException:
            self.abort()
            raise
        self._temporary.unlink(missing_ok=True)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (see :class:`AtomicFile`)."""
    target = AtomicFile(path)
    try:
        target.write(data)
    except BaseException:
        target.abort()
        raise
    target.commit()


class Outputs:
    """The outputs of one input in ``folder``, as sinks for one pass: NAME.277 (kept when
    there are claims), .999 (when there are transaction sets), .json, .html and .accepted.837
    (when a claim was accepted), named after ``base`` (the input's ``name`` unless given).
    The 277CA and 999 interchanges take their control numbers from ``numbers`` (counting
    from 1 for this input when not given).
    Nothing is in place until :meth:`commit`."""

    KINDS = ("277", "999", "json", "html", "accepted.837")

    def __init__(
        self,
        folder: Path,
        name: str,
        when: datetime.datetime,
        *,
        size: int,
        base: str | None = None,
        numbers: ControlNumbers | None = None,
        show_phi: bool = False,
    ) -> None:
        base = base or (name if name != "-" else "stdin")
        numbers = numbers if numbers is not None else Counter()
        self.files = {kind: AtomicFile(folder / f"{base}.{kind}") for kind in self.KINDS}
        files = self.files
        self._accepted = AcceptedSink(files["accepted.837"])
        self.sinks: list[Sink] = [
            Ack277Sink(files["277"], when, numbers=numbers),
            Ack999Sink(files["999"], when, numbers=numbers),
            JsonSink(files["json"], name, when),
            HtmlSink(files["html"], name, when, compact=size > COMPACT_ABOVE, show_phi=show_phi),
            self._accepted,
        ]

    def commit(self, kinds: Collection[str] = KINDS) -> list[Path]:
        """Put the outputs of ``kinds`` that have content in place; drop the others."""
        written = []
        for kind, target in self.files.items():
            has = self._accepted.written if kind == "accepted.837" else target.size > 0
            target.commit(keep=has and kind in kinds)
            if has and kind in kinds:
                written.append(target.path)
        return written

    def abort(self) -> None:
        for target in self.files.values():
            target.abort()


def write_outputs(
    validator: Validator,
    stream: BinaryIO,
    name: str,
    folder: Path,
    *,
    size: int,
    extra: tuple[Sink, ...] = (),
    progress: Callable[[int, Summary], None] | None = None,
    show_phi: bool = False,
    base: str | None = None,
) -> Summary:
    """Validate ``stream`` (seekable, ``size`` bytes) once, writing its :class:`Outputs` into
    ``folder``; ``extra`` sinks are fed in the same pass (``progress``: see
    :meth:`~edi63650.validate.Validator.write`)."""
    numbers = validator.control_numbers
    outputs = Outputs(
        folder,
        name,
        validator.when(),
        size=size,
        base=base,
        numbers=numbers if numbers is not None else Counter(validator.control_start),
        show_phi=show_phi,
    )
    try:
        summary = validator.write(stream, [*outputs.sinks, *extra], name, progress=progress)
    except BaseException:
        outputs.abort()
        raise
    outputs.commit()
    return summary
