"""The rule tables of ``maps/``, loaded once into typed, immutable lookups.

A :class:`Tables` object is built by :meth:`Tables.load` and passed to the engine; nothing is
held in module globals. Each file is checked against ``maps.xsd`` on load (see
:mod:`edi63650.maps`); consistency between files (every rule in the catalogue has code, every
device a requirement names exists) is checked here and reported as :class:`MapError`.
"""

from __future__ import annotations

import datetime
import importlib.util
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from edi63650 import cache
from edi63650.errors import MapError
from edi63650.findings import ClaimStatus, Severity
from edi63650.maps import NAMESPACE, default_maps_dir, load_xml
from edi63650.rules.profiles import Profiles, read_profiles
from edi63650.values import is_digits

if TYPE_CHECKING:  # lxml is imported where the maps are read: a cached start needs none
    from lxml import etree


def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _children(root: etree._Element, name: str) -> Iterator[etree._Element]:
    return root.iterchildren(_tag(name))


def _attr(element: etree._Element, name: str, default: str = "") -> str:
    value = element.get(name)
    return default if value is None else value


@attrs.frozen
class PtpPair:
    """An NCCI procedure-to-procedure edit: column 2 is not paid with column 1, for dates of
    service from ``effective`` through ``deleted`` (None: since before any claim, and still in
    force). The CMS files date each edit so; a deletion date is the last day of a quarter, the
    last day the edit applies (NCCI PTP file layout: effective and deletion dates)."""

    column1: str
    column2: str
    indicator: str  # 0 never bypassed, 1 a PTP-associated modifier may bypass, 9 not applicable
    rationale: str
    effective: datetime.date | None = None
    deleted: datetime.date | None = None

    def in_force(self, day: datetime.date | None) -> bool:
        """Whether the edit applies to a service on ``day`` (an undated one: if in force now,
        that is, not deleted)."""
        if day is None:
            return self.deleted is None
        return (self.effective is None or self.effective <= day) and (
            self.deleted is None or day <= self.deleted
        )


@attrs.frozen
class Mue:
    """A medically unlikely edit: at most ``value`` units (per line for MAI 1, else per date),
    from the quarter ``effective`` (None: undated) until a later vintage of the same code and
    setting replaces it."""

    code: str
    setting: str
    value: int
    mai: int
    rationale: str
    source: str
    effective: datetime.date | None = None


def _in_force(vintages: tuple[Mue, ...], day: datetime.date | None) -> Mue:
    """Of a code's MUE vintages (by effective date, undated first), the one in force on
    ``day``: the latest that took effect by then; the latest of all for an undated service;
    the earliest known for a date before every vintage (MUE values rarely change, and one
    known value is a better guess than none)."""
    if day is None:
        return vintages[-1]
    found = vintages[0]
    for vintage in vintages[1:]:
        if vintage.effective is not None and vintage.effective > day:
            break
        found = vintage
    return found


def _date(element: etree._Element, name: str) -> datetime.date | None:
    value = element.get(name)
    return datetime.date.fromisoformat(value) if value else None


_Dated = TypeVar("_Dated", PtpPair, Mue)


def _dated(
    entries: Iterable[tuple[tuple[str, str], _Dated]], what: str
) -> dict[tuple[str, str], tuple[_Dated, ...]]:
    """Entries grouped by key, each group by effective date (undated first); a key with two
    entries of one effective date is a broken table."""
    out: dict[tuple[str, str], list[_Dated]] = {}
    for key, entry in entries:
        out.setdefault(key, []).append(entry)
    grouped = {}
    for key, found in out.items():
        found.sort(key=lambda e: e.effective or datetime.date.min)
        dates = [e.effective for e in found]
        if len(set(dates)) != len(dates):
            raise MapError(f"{what}: {' '.join(key)} is listed twice with one effective date")
        grouped[key] = tuple(found)
    return grouped


@attrs.frozen
class FeeSchedule:
    """Medicare physician fee schedule indicators of one code (PPRRVU file)."""

    code: str
    short: str
    global_days: str  # 000, 010, 090 or XXX/YYY/ZZZ/MMM
    multiple_procedure: str
    bilateral: str
    assistant: str
    co_surgeon: str
    team: str

    @property
    def global_period(self) -> int | None:
        """Days after the procedure covered by its global period, or None."""
        return int(self.global_days) if is_digits(self.global_days) else None


@attrs.frozen
class Device:
    code: str
    kind: str
    short: str
    coverage: str
    opps_status: str


@attrs.frozen
class DeviceRequirement:
    """An OPPS device-intensive procedure and the device codes that satisfy it."""

    procedures: frozenset[str]
    needs: str
    devices: frozenset[str]
    waived_by: frozenset[str]
    source: str


@attrs.frozen
class Modifier:
    code: str
    kind: str
    name: str
    roles: frozenset[str]


@attrs.frozen
class ModifierConflict:
    first: frozenset[str]
    second: frozenset[str]
    reason: str
    source: str


@attrs.frozen
class IndicatorEdit:
    """A rule made of data (``fee-schedule-indicator`` in rules.xml): modifiers of a role on a
    code whose fee-schedule ``column`` holds the ``forbidden`` value (:mod:`.indicators`)."""

    column: str  # a column of fee-schedule.xml: assistant, co-surgeon, team, bilateral...
    forbidden: str
    modifiers: str  # a modifier role of modifiers.xml
    message: str  # with {code} and {modifiers}
    fix: str


@attrs.frozen
class RuleInfo:
    """A row of the rule catalogue."""

    id: str
    level: int
    title: str
    severities: Mapping[str, Severity | None]  # profile id -> severity, None when off
    source: str
    statuses: tuple[ClaimStatus, ...]
    confirmed: bool
    indicator: IndicatorEdit | None = None  # when the rule is made of data


#: Codes a family remembers looking up in its ranges, at most (they come from the data).
_SEEN_LIMIT = 10_000


@attrs.frozen
class CodeFamily:
    """Codes listed one by one (``codes``) and by ranges of codes of the same length."""

    id: str
    title: str
    codes: frozenset[str]
    ranges: tuple[tuple[str, str], ...]
    # Codes already looked up in the ranges, with the answer (bounded; not part of the value).
    _seen: dict[str, bool] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        if code in self.codes:
            return True
        seen = self._seen
        found = seen.get(code)
        if found is None:
            found = any(low <= code <= high and len(code) == len(low) for low, high in self.ranges)
            if len(seen) < _SEEN_LIMIT:
                seen[code] = found
        return found


@attrs.frozen
class Tables:
    """Everything the rules read, loaded from one maps folder."""

    ptp: Mapping[tuple[str, str], tuple[PtpPair, ...]]  # (column 1, column 2) -> by date
    mues: Mapping[tuple[str, str], tuple[Mue, ...]]  # (code, setting) -> vintages by date
    fee_schedule: Mapping[str, FeeSchedule]
    families: Mapping[str, CodeFamily]
    devices: Mapping[str, Device]
    requirements: tuple[DeviceRequirement, ...]
    lifetime_limits: Mapping[str, tuple[int, str]]
    indications: Mapping[str, str]
    opps_bill_types: tuple[str, ...]  # type-of-bill facility codes of Medicare OPPS claims
    opps_unpaid_statuses: Mapping[str, str]  # OPPS status indicator -> what it means
    # codes.xml phase-evidence, by phase ("trial", "permanent"): the codes that say it, and
    # the words that say it in a note
    phase_codes: Mapping[str, frozenset[str]]
    phase_words: Mapping[str, tuple[str, ...]]
    modifiers: Mapping[str, Modifier]
    conflicts: tuple[ModifierConflict, ...]
    places_of_service: Mapping[str, str]
    rules: tuple[RuleInfo, ...]
    profiles: Profiles  # maps/profiles.xml: which claims each profile is for
    ptp_column1: frozenset[str]  # codes that are column 1 of a pair: a cheap guard
    # column 1 -> column 2 -> the pair's periods (:meth:`ptp_pair` picks the one in force)
    ptp_by_column1: Mapping[str, Mapping[str, tuple[PtpPair, ...]]]
    ptp_by_column2: Mapping[str, frozenset[str]]  # column 2 -> its column-1 codes
    roles: Mapping[str, frozenset[str]]  # modifier role -> modifier codes
    device_kinds: Mapping[str, frozenset[str]]  # device kind -> device codes
    icd10: frozenset[str]
    icd10_vintage: str
    sources: Mapping[str, tuple[str, str]]  # file -> (source, vintage)
    _devices: dict[tuple[str, ...], frozenset[str]] = attrs.field(
        init=False, factory=dict, eq=False, repr=False
    )  # devices_of, by kinds asked for

    @classmethod
    def load(cls, maps_dir: Path | None = None) -> Tables:
        """The tables of ``maps_dir`` (default: the bundled maps), each file checked against
        ``maps.xsd``; loaded once per user and kept in :mod:`edi63650.cache`, keyed by the
        files' bytes, the ICD-10-CM list and this module."""
        folder = maps_dir if maps_dir is not None else default_maps_dir()
        files = [folder / name for name in (*_FILES, "maps.xsd")]
        key = cache.fingerprint(files=[*files, Path(__file__), *_icd10_list()], parts=[str(folder)])
        return cache.cached("tables", key, lambda: cls.read(folder))

    @classmethod
    def read(cls, folder: Path) -> Tables:
        roots = {name: load_xml(name, folder) for name in _FILES}
        codes = roots["codes.xml"]
        icd10, icd10_vintage = load_icd10()
        roles: dict[str, set[str]] = {}
        for element in _children(roots["modifiers.xml"], "modifier"):
            for role in _attr(element, "roles").split():
                roles.setdefault(role, set()).add(_attr(element, "code"))
        phases: dict[str, list[etree._Element]] = {"trial": [], "permanent": []}
        for element in _children(codes, "phase-evidence"):
            phases[_attr(element, "phase")].append(element)
        kinds: dict[str, set[str]] = {}
        for element in _children(codes, "device"):
            kinds.setdefault(_attr(element, "kind"), set()).add(_attr(element, "code"))
        pairs = [
            PtpPair(
                _attr(e, "column1"),
                _attr(e, "column2"),
                _attr(e, "indicator"),
                _attr(e, "rationale"),
                effective=_date(e, "effective"),
                deleted=_date(e, "deleted"),
            )
            for e in _children(roots["ncci-ptp.xml"], "pair")
        ]
        ptp = _dated((((p.column1, p.column2), p) for p in pairs), "ncci-ptp.xml")
        rule_elements = list(_children(roots["rules.xml"], "rule"))
        profiles, severities = read_profiles(
            roots["profiles.xml"],
            {_attr(e, "id"): _columns(e) for e in rule_elements},
            str(folder / "profiles.xml"),
        )
        mues = [
            Mue(
                code=_attr(e, "code"),
                setting=_attr(e, "setting"),
                value=int(_attr(e, "value")),
                mai=int(_attr(e, "mai")),
                rationale=_attr(e, "rationale"),
                source=_attr(e, "source", _attr(roots["mue.xml"], "source")),
                effective=_date(e, "effective"),
            )
            for e in _children(roots["mue.xml"], "mue")
        ]
        tables = cls(
            ptp=ptp,
            ptp_column1=frozenset(p.column1 for p in pairs),
            ptp_by_column1=_by_column1(ptp),
            ptp_by_column2=_by_column2(ptp),
            mues=_dated((((m.code, m.setting), m) for m in mues), "mue.xml"),
            fee_schedule={
                _attr(e, "value"): FeeSchedule(
                    code=_attr(e, "value"),
                    short=_attr(e, "short"),
                    global_days=_attr(e, "global-days"),
                    multiple_procedure=_attr(e, "multiple-procedure"),
                    bilateral=_attr(e, "bilateral"),
                    assistant=_attr(e, "assistant"),
                    co_surgeon=_attr(e, "co-surgeon"),
                    team=_attr(e, "team"),
                )
                for e in _children(roots["fee-schedule.xml"], "code")
            },
            families={
                _attr(e, "id"): CodeFamily(
                    id=_attr(e, "id"),
                    title=_attr(e, "title"),
                    codes=frozenset(_attr(c, "value") for c in _children(e, "code")),
                    ranges=tuple((_attr(r, "from"), _attr(r, "to")) for r in _children(e, "range")),
                )
                for e in _children(codes, "family")
            },
            devices={
                _attr(e, "code"): Device(
                    code=_attr(e, "code"),
                    kind=_attr(e, "kind"),
                    short=_attr(e, "short"),
                    coverage=_attr(e, "coverage"),
                    opps_status=_attr(e, "opps-status"),
                )
                for e in _children(codes, "device")
            },
            requirements=tuple(
                DeviceRequirement(
                    procedures=frozenset(_attr(e, "procedures").split()),
                    needs=_attr(e, "needs"),
                    devices=frozenset(_attr(e, "devices").split()),
                    waived_by=frozenset(_attr(e, "waived-by").split()),
                    source=_attr(e, "source"),
                )
                for e in _children(codes, "requirement")
            ),
            lifetime_limits={
                _attr(e, "code"): (int(_attr(e, "units")), _attr(e, "source"))
                for e in _children(codes, "lifetime-limit")
            },
            indications={
                _attr(e, "code"): _attr(e, "group") for e in _children(codes, "indication")
            },
            opps_bill_types=tuple(_attr(e, "facility") for e in _children(codes, "opps-bill-type")),
            opps_unpaid_statuses={
                _attr(e, "code"): _attr(e, "title") for e in _children(codes, "opps-unpaid-status")
            },
            phase_codes={
                phase: frozenset(code for e in evidence for code in _attr(e, "codes").split())
                for phase, evidence in phases.items()
            },
            phase_words={
                phase: tuple(_attr(e, "note-word") for e in evidence if _attr(e, "note-word"))
                for phase, evidence in phases.items()
            },
            modifiers={
                _attr(e, "code"): Modifier(
                    code=_attr(e, "code"),
                    kind=_attr(e, "kind"),
                    name=_attr(e, "name"),
                    roles=frozenset(_attr(e, "roles").split()),
                )
                for e in _children(roots["modifiers.xml"], "modifier")
            },
            conflicts=tuple(
                ModifierConflict(
                    first=frozenset(_attr(e, "first").split()),
                    second=frozenset(_attr(e, "second").split()),
                    reason=_attr(e, "reason"),
                    source=_attr(e, "source"),
                )
                for e in _children(roots["modifiers.xml"], "conflict")
            ),
            places_of_service={
                _attr(e, "code"): _attr(e, "name")
                for e in _children(roots["place-of-service.xml"], "place")
            },
            rules=tuple(_rule(e, severities[_attr(e, "id")]) for e in rule_elements),
            profiles=profiles,
            roles={role: frozenset(members) for role, members in roles.items()},
            device_kinds={kind: frozenset(members) for kind, members in kinds.items()},
            icd10=icd10,
            icd10_vintage=icd10_vintage,
            sources={
                name: (_attr(root, "source"), _attr(root, "vintage"))
                for name, root in roots.items()
            },
        )
        tables._check(folder)
        return tables

    def _check(self, folder: Path) -> None:
        """Cross-file consistency: what one table names, another must define."""
        for requirement in self.requirements:
            unknown = sorted(requirement.devices - self.devices.keys())
            if unknown:
                raise MapError(
                    f"{folder / 'codes.xml'}: requirement names unknown devices {unknown}"
                )
        for conflict in self.conflicts:
            unknown = sorted((conflict.first | conflict.second) - self.modifiers.keys())
            if unknown:
                raise MapError(
                    f"{folder / 'modifiers.xml'}: conflict names unknown modifiers {unknown}"
                )
        for family in (
            "scs-procedure",
            "scs-lead-placement",
            "scs-generator",
            "imaging-guidance",
            "includes-imaging-guidance",
            "needs-indication",
            "evaluation-management",
        ):
            if family not in self.families:
                raise MapError(f"{folder / 'codes.xml'}: code family {family!r} is missing")

    def family(self, name: str) -> CodeFamily:
        return self.families[name]

    def modifiers_with(self, role: str) -> frozenset[str]:
        """Modifiers with a role of maps/modifiers.xml (ptp-bypass, assistant, ...)."""
        return self.roles.get(role, frozenset())

    def devices_of(self, *kinds: str) -> frozenset[str]:
        """Device codes of the given kinds (lead, generator, trial-lead-kit, ...)."""
        found = self._devices.get(kinds)
        if found is None:
            found = self._devices[kinds] = frozenset().union(
                *(self.device_kinds.get(kind, frozenset()) for kind in kinds)
            )
        return found

    def mue(self, code: str, setting: str, day: datetime.date | None = None) -> Mue | None:
        """The MUE of ``code`` in ``setting`` in force on ``day`` (see :func:`_in_force`)."""
        vintages = self.mues.get((code, setting))
        return _in_force(vintages, day) if vintages else None

    def ptp_pair(self, column1: str, column2: str, day: datetime.date | None) -> PtpPair | None:
        """The PTP edit of the two codes in force on ``day``, if any."""
        for pair in self.ptp.get((column1, column2), ()):
            if pair.in_force(day):
                return pair
        return None


def _by_column1(
    ptp: Mapping[tuple[str, str], tuple[PtpPair, ...]],
) -> dict[str, dict[str, tuple[PtpPair, ...]]]:
    out: dict[str, dict[str, tuple[PtpPair, ...]]] = {}
    for (column1, column2), periods in ptp.items():
        out.setdefault(column1, {})[column2] = periods
    return out


def _by_column2(ptp: Mapping[tuple[str, str], tuple[PtpPair, ...]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for column1, column2 in ptp:
        out.setdefault(column2, set()).add(column1)
    return {code: frozenset(firsts) for code, firsts in out.items()}


def _columns(element: etree._Element) -> dict[str, Severity | None]:
    """A catalogue rule's severity columns (None where ``off``)."""

    def severity(value: str) -> Severity | None:
        return None if value == "off" else Severity(value)

    return {
        "medicare": severity(_attr(element, "medicare")),
        "commercial": severity(_attr(element, "commercial")),
    }


def _rule(element: etree._Element, severities: Mapping[str, Severity | None]) -> RuleInfo:
    return RuleInfo(
        id=_attr(element, "id"),
        level=int(_attr(element, "level")),
        title=_attr(element, "title"),
        severities=severities,
        source=_attr(element, "source"),
        statuses=tuple(
            ClaimStatus(_attr(s, "category"), _attr(s, "code"), _attr(s, "entity"))
            for s in _children(element, "status")
        ),
        confirmed=_attr(element, "status", "CONFIRMED") == "CONFIRMED",
        indicator=next(
            (
                IndicatorEdit(
                    column=_attr(e, "column"),
                    forbidden=_attr(e, "forbidden"),
                    modifiers=_attr(e, "modifiers"),
                    message=_attr(e, "message"),
                    fix=_attr(e, "fix"),
                )
                for e in _children(element, "fee-schedule-indicator")
            ),
            None,
        ),
    )


#: The table files of a maps folder.
_FILES = (
    "ncci-ptp.xml",
    "mue.xml",
    "fee-schedule.xml",
    "codes.xml",
    "modifiers.xml",
    "place-of-service.xml",
    "rules.xml",
    "profiles.xml",
)


def _icd10_list() -> list[Path]:
    """The ``simple-icd-10-cm`` package's latest code list, or none (not installed).

    find_spec locates the package without running its ``__init__`` (which parses the whole
    tabular XML); only the plain code list is read."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return sorted(data.glob("code-list-*.txt"))[-1:]


def load_icd10() -> tuple[frozenset[str], str]:
    """Billable ICD-10-CM codes (no dots) from the ``simple-icd-10-cm`` package's code list.

    The package ships the CMS code list in tabular order, parents before their children; a
    code is billable when it is a leaf: the entry after it is not one of its children. Only the
    data file is read (the package's module takes a second to import).
    """
    found = _icd10_list()
    if not found:
        raise MapError("no ICD-10-CM code list found: is simple-icd-10-cm installed?")
    data, name = found[0].parent, found[0].name
    entries = [
        line.strip()
        for line in (data / name).read_text(encoding="utf-8").splitlines()
        if len(line.strip()) >= 3 and "-" not in line and line.strip()[0].isalpha()
    ]
    billable = {
        code
        for code, following in zip(entries, [*entries[1:], ""], strict=True)
        if not following.startswith(code)
    }
    vintage = name.removeprefix("code-list-").removesuffix(".txt")
    return frozenset(billable), vintage
