"""Does a detected chemistry meet a quality specification? Every failing element is named."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gateway.rulebook.model import Specification
from gateway.violations import Violation, shown

ALUMINIUM = "Al"
SCR_4_5 = "SCR 4.5"


def check_chemistry(
    specification: Specification,
    detected: Mapping[str, Decimal],
    *,
    field: str,
    rule: str,
    shown_in: str = "the eCOA",
    unreported_rule: str = SCR_4_5,
) -> list[Violation]:
    """Violations of ``specification`` by the detected levels (% by mass, by element symbol).

    ``field`` is the path of the chemistry in the message (e.g. ``casts[0].chemistry``);
    ``rule`` is the quality rule of the contract (e.g. ``NASAAC SCR 1(a)``). Limits are
    inclusive: a level exactly at its maximum passes. An element the specification limits
    that ``shown_in`` does not show breaks ``unreported_rule`` (an eCOA must show each one,
    SCR 4.5).
    """
    limits = specification.limits
    if limits is None:
        return [not_configured(specification, field)]
    found: list[Violation] = []
    for element, bounds in limits.items():
        level = detected.get(element)
        if level is None:
            found.append(
                Violation(
                    code="ELEMENT_NOT_REPORTED",
                    rule=unreported_rule,
                    field=f"{field}.{element}",
                    observed=None,
                    allowed=f"{bounds.describe('%')} ({specification.designation})",
                    message=f"{shown_in} must show the detected level of {element}, which "
                    f"{specification.designation} limits",
                )
            )
        elif not bounds.contains(level):
            found.append(
                Violation(
                    code="ELEMENT_OUT_OF_SPECIFICATION",
                    rule=rule,
                    field=f"{field}.{element}",
                    observed=f"{shown(level)} %",
                    allowed=f"{bounds.describe('%')} ({specification.designation})",
                    message=f"{element} at {shown(level)} % is outside "
                    f"{specification.designation}'s {bounds.describe('%')}",
                )
            )
    others = {
        element: level
        for element, level in detected.items()
        if element not in limits and element != ALUMINIUM
    }
    found.extend(_others(specification, others, field, rule))
    found.extend(_aluminium(specification, detected, field, rule))
    found.extend(_sludge(specification, detected, field, rule))
    return found


def filtration_violations(
    specification: Specification,
    production_filtered: bool | None,
    *,
    field: str,
    rule: str,
    cast_reference: str,
) -> list[Violation]:
    """A specification that demands filtered production (NASAAC) is met only by a cast shown
    to be filtered."""
    if not specification.filtration_required or production_filtered is True:
        return []
    return [
        Violation(
            code="PRODUCTION_NOT_FILTERED",
            rule=rule,
            field=field,
            observed="not stated" if production_filtered is None else "false",
            allowed="true",
            message=f"{specification.designation} metal must come from filtered production; "
            f"cast {cast_reference} does not show it",
        )
    ]


def not_configured(specification: Specification, field: str) -> Violation:
    return Violation(
        code="SPECIFICATION_NOT_CONFIGURED",
        rule=specification.rule,
        field=field,
        observed=specification.designation,
        allowed="a specification whose limits are configured",
        message=f"{specification.designation}'s limits are not configured in this rulebook, "
        f"so no chemistry can be shown to meet it: {specification.note or ''}".rstrip(": "),
    )


def _others(
    specification: Specification, others: Mapping[str, Decimal], field: str, rule: str
) -> list[Violation]:
    found = []
    each_max = specification.others_each_max
    if each_max is not None:
        for element, level in sorted(others.items()):
            if level > each_max:
                found.append(
                    Violation(
                        code="OTHER_ELEMENT_EXCEEDS_EACH_LIMIT",
                        rule=rule,
                        field=f"{field}.{element}",
                        observed=f"{shown(level)} %",
                        allowed=f"<= {shown(each_max)} % each ({specification.designation})",
                        message=f"{element} is not limited by name in "
                        f"{specification.designation}, and as an 'other' element it may be at "
                        f"most {shown(each_max)} %",
                    )
                )
    total_max = specification.others_total_max
    total = sum(others.values(), Decimal(0))
    if total_max is not None and total > total_max:
        found.append(
            Violation(
                code="OTHER_ELEMENTS_EXCEED_TOTAL_LIMIT",
                rule=rule,
                field=field,
                observed=f"{shown(total)} % ({', '.join(sorted(others))})",
                allowed=f"<= {shown(total_max)} % in total ({specification.designation})",
                message=f"the elements {specification.designation} does not limit by name add "
                f"up to {shown(total)} %, more than {shown(total_max)} %",
            )
        )
    return found


def _aluminium(
    specification: Specification, detected: Mapping[str, Decimal], field: str, rule: str
) -> list[Violation]:
    non_aluminium = sum(
        (level for element, level in detected.items() if element != ALUMINIUM), Decimal(0)
    )
    if non_aluminium > 100:
        return [
            Violation(
                code="CHEMISTRY_OVER_100_PERCENT",
                rule=SCR_4_5,
                field=field,
                observed=f"{shown(non_aluminium)} %",
                allowed="<= 100 %",
                message="the detected levels add up to more than 100 %",
            )
        ]
    minimum = specification.aluminium_min
    if minimum is None:
        return []
    aluminium = detected.get(ALUMINIUM, Decimal(100) - non_aluminium)
    if aluminium >= minimum:
        return []
    return [
        Violation(
            code="ALUMINIUM_BELOW_MINIMUM",
            rule=rule,
            field=f"{field}.{ALUMINIUM}",
            observed=f"{shown(aluminium)} %",
            allowed=f">= {shown(minimum)} % ({specification.designation})",
            message=f"aluminium at {shown(aluminium)} % is below {specification.designation}'s "
            f"minimum of {shown(minimum)} %",
        )
    ]


def _sludge(
    specification: Specification, detected: Mapping[str, Decimal], field: str, rule: str
) -> list[Violation]:
    maximum = specification.sludge_max
    if maximum is None:
        return []
    zero = Decimal(0)
    sludge = detected.get("Fe", zero) + 2 * detected.get("Mn", zero) + 3 * detected.get("Cr", zero)
    if sludge <= maximum:
        return []
    return [
        Violation(
            code="SLUDGE_FACTOR_EXCEEDED",
            rule=rule,
            field=field,
            observed=f"Fe + 2 Mn + 3 Cr = {shown(sludge)}",
            allowed=f"<= {shown(maximum)} ({specification.designation})",
            message=f"the sludge factor Fe + 2 Mn + 3 Cr is {shown(sludge)}, more than "
            f"{shown(maximum)}",
        )
    ]
