"""Payer profiles, read from ``maps/profiles.xml``: which rules run, at which severity, and
which claims each profile is for.

A claim takes the first profile whose payer ids (2010BB NM109) or claim filing indicators
(SBR09) match its own, else the default (the profile that names neither). A profile's
severities start from a column of ``rules.xml`` or from an earlier profile, and its ``rule``
entries change single rules. A clearinghouse adds a payer with a maps folder of its own
(``--maps``), not with code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from edi63650.errors import MapError
from edi63650.findings import Severity
from edi63650.maps import NAMESPACE
from edi63650.model import Claim

if TYPE_CHECKING:  # lxml is imported where the maps are read
    from lxml import etree

#: A severity per rule id (None: the rule is off).
Severities = Mapping[str, Severity | None]


@attrs.frozen
class PayerProfile:
    """One profile: its id and title, and the claims it is for."""

    id: str
    title: str
    payers: frozenset[str]
    filing: frozenset[str]

    @property
    def default(self) -> bool:
        return not self.payers and not self.filing


@attrs.frozen
class Profiles:
    """The profiles in their order, and which one is the default."""

    profiles: tuple[PayerProfile, ...]
    default: str

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.profiles)

    def select(self, claim: Claim, choice: str = "auto") -> str:
        """The profile of ``claim``: ``choice`` unless it is ``auto``, else the first profile
        whose payer ids or filing indicators match the claim's, else the default."""
        if choice != "auto":
            return choice
        subscriber = claim.context.subscriber
        payer = subscriber.payer_id if subscriber else None
        filing = subscriber.claim_filing_indicator if subscriber else ""
        for profile in self.profiles:
            if (payer and payer in profile.payers) or (filing and filing in profile.filing):
                return profile.id
        return self.default


def read_profiles(
    root: etree._Element, columns: Mapping[str, Mapping[str, Severity | None]], where: str
) -> tuple[Profiles, dict[str, dict[str, Severity | None]]]:
    """The profiles of ``profiles.xml`` (``root``) and each rule's severity per profile, from
    the rule catalogue's ``columns`` (rule id -> column -> severity). A profile may be based
    on any other (above or below it), not on itself through others."""
    tag = f"{{{NAMESPACE}}}"
    elements = {e.get("id", ""): e for e in root.iterchildren(f"{tag}profile")}
    resolved: dict[str, dict[str, Severity | None]] = {}  # profile -> rule -> severity

    def resolve(pid: str, seen: tuple[str, ...]) -> dict[str, Severity | None]:
        if pid in resolved:
            return resolved[pid]
        element = elements[pid]
        column, base = element.get("severities"), element.get("base")
        if (column is None) == (base is None):
            raise MapError(f"{where}: profile {pid} needs one of severities= or base=")
        if base is not None and base in (*seen, pid):
            raise MapError(f"{where}: profile {pid} is based on itself (through {base})")
        if base is not None and base not in elements:
            raise MapError(f"{where}: profile {pid} is based on {base}, which is not defined")
        if column is not None:
            found = {rule: by_column[column] for rule, by_column in columns.items()}
        else:
            found = dict(resolve(base or "", (*seen, pid)))
        for change in element.iterchildren(f"{tag}rule"):
            rule = change.get("id", "")
            if rule not in columns:
                raise MapError(f"{where}: profile {pid} names {rule}, which rules.xml lacks")
            value = change.get("severity", "")
            found[rule] = None if value == "off" else Severity(value)
        resolved[pid] = found
        return found

    profiles = []
    for pid, element in elements.items():
        resolve(pid, ())
        profiles.append(
            PayerProfile(
                id=pid,
                title=element.get("title", ""),
                payers=frozenset((element.get("payers") or "").split()),
                filing=frozenset((element.get("filing") or "").split()),
            )
        )
    defaults = [p.id for p in profiles if p.default]
    if not defaults:
        raise MapError(f"{where}: no default profile (one that names no payers and no filing)")
    severities = {rule: {pid: resolved[pid][rule] for pid in elements} for rule in columns}
    return Profiles(tuple(profiles), defaults[0]), severities
