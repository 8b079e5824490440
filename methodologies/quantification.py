"""The result every methodology returns, and the rounding rules that produce it.

Methodologies compute in exact rationals (`Fraction`) and hand a `VintageAmounts` per
calendar year to `settle`; only here are amounts turned into integer kilograms, credited
figures rounded down and subtracted ones up, so every plugin rounds the same conservative way.
"""

import math
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

import rfc8785
from pydantic import BaseModel, ConfigDict

MAX_EXAMPLES = 5


class Severity(StrEnum):
    INFO = "info"  # recorded; changes nothing
    FLAG = "flag"  # data excluded or suspicious: the verifier must look, quantification stands
    REJECT = "reject"  # the report cannot be issued as it stands


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QAFinding(_Frozen):
    code: str
    severity: Severity
    count: int
    message: str
    examples: tuple[str, ...]


class FactorUsed(_Frozen):
    factor_id: str
    # Decimal string ("0.5306"), never a float: the JSON stays integers and strings only.
    value: str
    unit: str
    source: str
    version: str
    # How the value was chosen: "pinned by project", "pinned by methodology version",
    # "published for the vintage year", "latest published year", "methodology default".
    selection: str
    vintage_years: tuple[int, ...]


class Deductions(_Frozen):
    uncertainty_kg: int = 0
    late_calibration_kg: int = 0
    green_certificate_kg: int = 0
    # Sent to the registry's non-permanence buffer pool at issuance, not to the project.
    buffer_kg: int = 0


class Quantities(_Frozen):
    baseline_kg: int = 0
    # Sinks: CO2 taken up (stock gain × 44/12); added to the reduction, like baseline emissions.
    removals_kg: int = 0
    project_kg: int = 0
    leakage_kg: int = 0
    deductions: Deductions = Deductions()
    # What issuance credits to the project; net_reduction_kg + buffer_kg is the verified total.
    # Area is a stock, not a flow: in totals it is the largest of the vintages, not their sum.
    net_reduction_kg: int = 0
    credited_energy_wh: int | None = None
    excluded_energy_wh: int | None = None
    credited_area_m2: int | None = None
    excluded_area_m2: int | None = None


class VintageResult(Quantities):
    vintage_year: int
    # ISO 8601 in the project's local time: first and last instant the data cover in this year.
    period_start: str
    period_end: str


class Quantification(_Frozen):
    methodology_id: str
    methodology_version: str
    input_fingerprint: str
    rejected: bool
    vintages: tuple[VintageResult, ...]
    totals: Quantities
    factors: tuple[FactorUsed, ...]
    qa_findings: tuple[QAFinding, ...]

    def to_json(self) -> bytes:
        """RFC 8785 canonical JSON: same quantification, same bytes."""
        return rfc8785.dumps(self.model_dump(mode="json", exclude_none=True))


@dataclass(frozen=True)
class VintageAmounts:
    """Exact amounts for one vintage, in kg CO2e, before any rounding."""

    vintage_year: int
    period_start: str
    period_end: str
    baseline_kg: Fraction = Fraction(0)
    removals_kg: Fraction = Fraction(0)
    project_kg: Fraction = Fraction(0)
    leakage_kg: Fraction = Fraction(0)
    uncertainty_kg: Fraction = Fraction(0)
    late_calibration_kg: Fraction = Fraction(0)
    green_certificate_kg: Fraction = Fraction(0)
    buffer_share: Fraction = Fraction(0)
    credited_energy_wh: int | None = None
    excluded_energy_wh: int | None = None
    credited_area_m2: int | None = None
    excluded_area_m2: int | None = None


def settle(amounts: VintageAmounts) -> VintageResult:
    """Round one vintage to integer kg, always against the project.

    Each credited figure (baseline, removals) is rounded down and each subtracted one (project
    emissions, leakage, every deduction) up; the verified total is these integers added up,
    never below zero, so the figures a report shows add up exactly to what is credited and
    never to more than the exact amounts support. It is split so that the project's part is
    floor(total × (1 − buffer share)) and the buffer takes the remainder: the rounding residue
    goes to the pool, not to the project.
    """
    baseline_kg, removals_kg = math.floor(amounts.baseline_kg), math.floor(amounts.removals_kg)
    project_kg, leakage_kg = math.ceil(amounts.project_kg), math.ceil(amounts.leakage_kg)
    deductions = Deductions(
        uncertainty_kg=math.ceil(amounts.uncertainty_kg),
        late_calibration_kg=math.ceil(amounts.late_calibration_kg),
        green_certificate_kg=math.ceil(amounts.green_certificate_kg),
        buffer_kg=0,
    )
    verified_kg = max(0, baseline_kg + removals_kg - project_kg - leakage_kg - deductions.uncertainty_kg
                      - deductions.late_calibration_kg - deductions.green_certificate_kg)
    net_kg = math.floor(verified_kg * (1 - amounts.buffer_share))
    return VintageResult(
        vintage_year=amounts.vintage_year,
        period_start=amounts.period_start,
        period_end=amounts.period_end,
        baseline_kg=baseline_kg,
        removals_kg=removals_kg,
        project_kg=project_kg,
        leakage_kg=leakage_kg,
        deductions=deductions.model_copy(update={"buffer_kg": verified_kg - net_kg}),
        net_reduction_kg=net_kg,
        credited_energy_wh=amounts.credited_energy_wh,
        excluded_energy_wh=amounts.excluded_energy_wh,
        credited_area_m2=amounts.credited_area_m2,
        excluded_area_m2=amounts.excluded_area_m2,
    )


@dataclass
class _Tally:
    severity: Severity
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class FindingCollector:
    """Accumulates QA findings over data chunks.

    Findings are listed in the order their rules first ran (every rule runs on the first
    chunk), not the order they first fired, so the report's order never depends on the data.
    """

    tallies: dict[str, _Tally] = field(default_factory=dict)

    def add(self, code: str, severity: Severity, count: int, message: str, examples: list[str]) -> None:
        tally = self.tallies.setdefault(code, _Tally(severity, message))
        tally.count += count
        tally.examples.extend(examples[: MAX_EXAMPLES - len(tally.examples)])

    @property
    def findings(self) -> list[QAFinding]:
        return [
            QAFinding(
                code=code,
                severity=tally.severity,
                count=tally.count,
                message=tally.message,
                examples=tuple(tally.examples),
            )
            for code, tally in self.tallies.items()
            if tally.count > 0
        ]


_ACTIVITY_FIELDS = ("credited_energy_wh", "excluded_energy_wh", "credited_area_m2", "excluded_area_m2")


def _zeroed(result: VintageResult) -> VintageResult:
    activity = {name: 0 for name in _ACTIVITY_FIELDS if getattr(result, name) is not None}
    return result.model_copy(
        update={
            "baseline_kg": 0,
            "removals_kg": 0,
            "project_kg": 0,
            "leakage_kg": 0,
            "deductions": Deductions(),
            "net_reduction_kg": 0,
            **activity,
        }
    )


def _sum(vintages: tuple[VintageResult, ...]) -> Quantities:
    def total(name: str) -> int | None:
        values = [getattr(v, name) for v in vintages]
        if not values or any(value is None for value in values):
            return None
        return max(values) if name.endswith("_m2") else sum(values)

    return Quantities(
        baseline_kg=sum(v.baseline_kg for v in vintages),
        removals_kg=sum(v.removals_kg for v in vintages),
        project_kg=sum(v.project_kg for v in vintages),
        leakage_kg=sum(v.leakage_kg for v in vintages),
        deductions=Deductions(
            uncertainty_kg=sum(v.deductions.uncertainty_kg for v in vintages),
            late_calibration_kg=sum(v.deductions.late_calibration_kg for v in vintages),
            green_certificate_kg=sum(v.deductions.green_certificate_kg for v in vintages),
            buffer_kg=sum(v.deductions.buffer_kg for v in vintages),
        ),
        net_reduction_kg=sum(v.net_reduction_kg for v in vintages),
        credited_energy_wh=total("credited_energy_wh"),
        excluded_energy_wh=total("excluded_energy_wh"),
        credited_area_m2=total("credited_area_m2"),
        excluded_area_m2=total("excluded_area_m2"),
    )


def build_quantification(
    *,
    methodology_id: str,
    methodology_version: str,
    input_fingerprint: str,
    vintages: list[VintageAmounts],
    factors: list[FactorUsed],
    findings: FindingCollector,
) -> Quantification:
    """Assemble the result; a report with any reject finding carries zero in every quantity.

    Zeroing (rather than keeping figures beside a flag) means no downstream step can issue
    from a rejected report by forgetting to look at `rejected`; the findings say why.
    """
    listed = findings.findings
    rejected = any(finding.severity is Severity.REJECT for finding in listed)
    settled = tuple(settle(amounts) for amounts in sorted(vintages, key=lambda a: a.vintage_year))
    if rejected:
        settled = tuple(_zeroed(result) for result in settled)
    return Quantification(
        methodology_id=methodology_id,
        methodology_version=methodology_version,
        input_fingerprint=input_fingerprint,
        rejected=rejected,
        vintages=settled,
        totals=_sum(settled),
        factors=tuple(factors),
        qa_findings=tuple(listed),
    )
