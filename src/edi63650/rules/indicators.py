"""Rules made of data: a ``fee-schedule-indicator`` entry of ``maps/rules.xml``.

Such a rule reports a line whose modifiers of one role (``maps/modifiers.xml``: assistant,
co-surgeon, team, bilateral...) sit on a code whose fee-schedule indicator (a column of
``maps/fee-schedule.xml``) has the forbidden value: an assistant where the assistant-at-surgery
indicator is 1, say. The engine runs every catalogue rule that has such an entry and no code
of its own, so a new indicator edit is a table row, not a function.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from edi63650.loops import procedure_element
from edi63650.model import Claim
from edi63650.rules.tables import IndicatorEdit, RuleInfo, Tables

if TYPE_CHECKING:  # the engine imports this module
    from edi63650.rules.engine import Hit, RuleCheck, RuleContext, Trigger


@attrs.frozen
class IndicatorRule:
    """The check of one indicator rule (callable as any rule: ``check(context, claim)``)."""

    edit: IndicatorEdit

    def __call__(self, context: RuleContext, claim: Claim) -> Iterator[Hit]:
        from edi63650.rules.engine import Hit  # noqa: PLC0415 - the engine imports this module

        tables = context.tables
        if context.codes.isdisjoint(tables.fee_schedule):
            return
        edit = self.edit
        modifiers = tables.modifiers_with(edit.modifiers)
        attribute = edit.column.replace("-", "_")
        element = procedure_element(claim.kind, 3)
        for line in claim.lines:
            procedure = line.procedure
            schedule = tables.fee_schedule.get(procedure.code) if procedure else None
            if schedule is None or getattr(schedule, attribute) != edit.forbidden:
                continue
            used = sorted(frozenset(procedure.modifiers if procedure else ()) & modifiers)
            if used:
                yield Hit(
                    edit.message.format(code=schedule.code, modifiers="/".join(used)),
                    fix=edit.fix,
                    line=line,
                    element=element,
                    source=f"Medicare PFS {schedule.code}: {edit.column} indicator "
                    f"{edit.forbidden}",
                )


def _trigger(tables: Tables, codes: frozenset[str]) -> bool:
    return not codes.isdisjoint(tables.fee_schedule)


def bind(info: RuleInfo) -> tuple[RuleCheck, Trigger] | None:
    """The check and trigger of a catalogue rule made of data, or None if it is not one."""
    if info.indicator is None:
        return None
    return IndicatorRule(info.indicator), _trigger
