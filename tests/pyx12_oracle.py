"""pyx12 as the test oracle: does a file validate against pyx12's implementation-guide maps?"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pyx12.params
import pyx12.x12n_document


def pyx12_check(path: Path) -> tuple[bool, str]:
    """(valid, pyx12's acknowledgment and error output) for the X12 file at ``path``."""
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    param = pyx12.params.params()
    acknowledgment, errors = io.StringIO(), io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=param,
        src_file=str(path),
        fd_997=acknowledgment,
        fd_html=None,
        fd_xmldoc=None,
        fd_json=errors,
    )
    return bool(valid), acknowledgment.getvalue() + errors.getvalue()
