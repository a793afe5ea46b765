"""National Provider Identifier check digit.

The NPI's tenth digit is a Luhn check digit computed over the nine leading digits prefixed with
80840 (the ISO 7812 issuer prefix for US health applications). Source: CMS, "Requirements for
NPI check digit", NPPES NPI check digit specification (2007).
"""

from __future__ import annotations

import functools

_PREFIX = "80840"


def npi_check_digit(first_nine: str) -> str:
    """The check digit that completes ``first_nine`` into a valid NPI."""
    total = 0
    for index, char in enumerate(reversed(_PREFIX + first_nine)):
        digit = int(char)
        if index % 2 == 0:  # every second digit from the right, starting with the rightmost
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


@functools.lru_cache(maxsize=4096)  # a file names few providers, many times; bounded
def is_valid_npi(npi: str) -> bool:
    """True for ten digits whose last is the Luhn check digit of the first nine."""
    return len(npi) == 10 and npi.isascii() and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]
