"""Damaged variants of a file, one change each, the same for a given seed."""

from __future__ import annotations

import random


def mutants(data: bytes, seed: int, count: int) -> list[bytes]:
    """``count`` variants of ``data``: a segment dropped, doubled, swapped or moved, an element
    changed, an empty segment added, the file cut short, or a trailer count changed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    text = data.decode("latin-1")
    terminator = "~" if "~" in text else "\n"
    parts = text.split(terminator)
    out = []
    for _ in range(count):
        changed = list(parts)
        kind = rng.randrange(8)
        index = rng.randrange(len(changed))
        if kind == 0:
            del changed[index]
        elif kind == 1:
            changed.insert(index, changed[index])
        elif kind == 2:
            after = (index + 1) % len(changed)
            changed[index], changed[after] = changed[after], changed[index]
        elif kind == 3:
            separator = "*" if "*" in changed[index] else "|"
            elements = changed[index].split(separator)
            position = rng.randrange(len(elements))
            elements[position] = rng.choice(
                ["", "X", "99999999", "A:B:C", "-1", "20261399", elements[position] * 2]
            )
            changed[index] = separator.join(elements)
        elif kind == 4:
            changed.insert(index, "")
        elif kind == 5:
            changed = changed[: max(1, index)]
        elif kind == 6:
            for position, segment in enumerate(changed):
                if segment.lstrip().startswith(("SE", "GE", "IEA")):
                    elements = segment.split("*")
                    if len(elements) > 1:
                        elements[1] = str(rng.randrange(1, 99))
                        changed[position] = "*".join(elements)
                        break
        else:
            other = rng.randrange(len(changed))
            changed[index], changed[other] = changed[other], changed[index]
        out.append(terminator.join(changed).encode("latin-1"))
    return out
