"""CIR-PV-DG 1.0 — distributed photovoltaic generation displacing grid electricity.

Reductions = (credited generation − imports − certificate-claimed energy) × grid factor,
with the QA rules of docs/methodologies/CIR-PV-DG.md. Gaps are never interpolated: an
interval without a usable reading earns nothing.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from methodologies.canonical import CanonicalInput
from methodologies.errors import InputDataError
from methodologies.factors import GridParams, ResolvedFactor, factors_used, resolve_grid_factor
from methodologies.metering import MISSING, IntervalSeries, VintagePeriods, prepare_intervals
from methodologies.plugin import AssetKind, Methodology, QuantifyContext
from methodologies.quantification import (
    FindingCollector,
    Quantification,
    Severity,
    VintageAmounts,
    build_quantification,
)
from methodologies.schema import ColumnSpec, InputSchema
from methodologies.solar import sun_down_during

AccuracyClass = Literal["0.2S", "0.5S", "1", "2"]

# Maximum permissible error (%) at reference conditions (unity power factor, basic current
# range) by accuracy class: IEC 62053-22 / GB/T 17215.322 for 0.2S and 0.5S, IEC 62053-21 /
# GB/T 17215.321 for 1 and 2; JJG 596-2012 verifies meters against the same class limits.
MAX_PERMISSIBLE_ERROR_PERCENT: dict[str, Decimal] = {
    "0.2S": Decimal("0.2"),
    "0.5S": Decimal("0.5"),
    "1": Decimal("1.0"),
    "2": Decimal("2.0"),
}
# Interval energy above 1.1 × AC rating × interval length cannot come from the inverter.
AC_HEADROOM = Fraction(11, 10)
FLATLINE_MIN_S = 4 * 3600
SPECIFIC_YIELD_FLAG_KWH_PER_KWP = 1600
SPECIFIC_YIELD_REJECT_KWH_PER_KWP = 2000


class MeterRating(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_kwp: Decimal = Field(gt=0)
    inverter_ac_kw: Decimal = Field(gt=0)


class PvParams(GridParams):
    capacity_kwp: Decimal = Field(gt=0, description="DC capacity of the plant (all meters)")
    inverter_ac_kw: Decimal = Field(gt=0, description="AC rating of the plant's inverters")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    meter_accuracy_class: AccuracyClass
    calibration_due_date: date
    green_certificate_kwh_by_year: dict[int, Decimal] = Field(
        default_factory=dict, description="Energy claimed as green certificates, by vintage year"
    )
    interval_minutes: Literal[15, 60] | None = None
    meter_ratings: dict[str, MeterRating] = Field(
        default_factory=dict,
        description="Per-meter ratings; when given, every meter needs one and QA uses them per meter",
    )


INPUT_SCHEMA = InputSchema(
    (
        ColumnSpec("meter_id", "text", "Generation meter identifier"),
        ColumnSpec("timestamp", "timestamp", "Interval start, ISO 8601 with UTC offset"),
        ColumnSpec(
            "energy_kwh",
            "number",
            "Energy generated in the interval; empty = no reading",
            nullable=True,
            scale=3,
        ),
        ColumnSpec("import_kwh", "number", "Energy imported through the meter", required=False, scale=3),
    )
)


def _ratings_per_meter(series: IntervalSeries, params: PvParams) -> tuple[np.ndarray, np.ndarray]:
    """Per meter code: (AC cap in Wh per interval, floored; capacity in kWp as float)."""
    interval_h = Fraction(series.interval_s, 3600)
    if not params.meter_ratings:
        cap_wh = int(AC_HEADROOM * Fraction(params.inverter_ac_kw) * 1000 * interval_h)
        count = len(series.meter_ids)
        return np.full(count, cap_wh, dtype=np.int64), np.full(count, float(params.capacity_kwp))
    caps, capacities = [], []
    for meter_id in series.meter_ids:
        rating = params.meter_ratings.get(meter_id)
        if rating is None:
            raise InputDataError(f"meter '{meter_id}' has no entry in meter_ratings", column="meter_id")
        caps.append(int(AC_HEADROOM * Fraction(rating.inverter_ac_kw) * 1000 * interval_h))
        capacities.append(float(rating.capacity_kwp))
    return np.array(caps, dtype=np.int64), np.array(capacities)


@dataclass
class _YearTotals:
    """Exact integer Wh sums for one vintage year, accumulated over chunks."""

    generation_wh: int = 0
    imports_wh: int = 0
    late_wh: int = 0
    excluded_wh: int = 0


def _quantify(canonical: CanonicalInput, params: PvParams, context: QuantifyContext) -> Quantification:
    series = prepare_intervals(
        canonical,
        meter_column="meter_id",
        timestamp_column="timestamp",
        timezone=params.timezone,
        interval_minutes=params.interval_minutes,
    )
    has_imports = "import_kwh" in canonical.columns
    cap_wh, capacity_kwp = _ratings_per_meter(series, params)
    # All meters share the project's location: the sun is computed once per distinct
    # interval of the data set (35,040 for a year of quarter hours), not once per row.
    slot_count = (series.last_start_s - series.first_start_s) // series.interval_s + 1
    # A sparse data set spanning decades would make the slot table larger than the data.
    per_slot = slot_count <= max(len(canonical), 100_000)
    if per_slot:
        slot_starts = series.first_start_s + np.arange(slot_count, dtype=np.int64) * series.interval_s
        sun_down_by_slot = sun_down_during(slot_starts, series.interval_s, params.latitude, params.longitude)
    recalibration_s = int(
        datetime.combine(params.calibration_due_date + timedelta(days=1), time(), series.tz).timestamp()
    )
    max_error = Fraction(MAX_PERMISSIBLE_ERROR_PERCENT[params.meter_accuracy_class]) / 100
    findings = FindingCollector()
    totals: dict[int, _YearTotals] = {}
    periods = VintagePeriods({})
    years = np.arange(series.first_year, series.first_year + len(series.new_years_s) + 1)
    # Credited Wh per (meter, year), for specific yield; float sums of integers stay exact below 2**53.
    credited_by_meter_year = np.zeros(len(series.meter_ids) * len(years))

    for chunk in series.chunks():
        energy_wh = chunk.values("energy_kwh")
        import_wh = chunk.values("import_kwh") if has_imports else np.zeros_like(energy_wh)
        chunk.reject_duplicates(findings, "meter")
        missing = energy_wh == MISSING
        negative = ~missing & (energy_wh < 0)
        negative_import = import_wh < 0
        findings.add(
            "NEGATIVE_READING",
            Severity.FLAG,
            int((negative | negative_import).sum()),
            "negative readings are excluded (negative imports are not counted either)",
            chunk.describe_rows(negative | negative_import),
        )
        if per_slot:
            sun_down = sun_down_by_slot[(chunk.start_s - series.first_start_s) // series.interval_s]
        else:
            sun_down = sun_down_during(chunk.start_s, series.interval_s, params.latitude, params.longitude)
        at_night = ~missing & (energy_wh > 0) & sun_down
        findings.add(
            "GENERATION_AT_NIGHT",
            Severity.FLAG,
            int(at_night.sum()),
            "generation while the sun was below the horizon (−0.833°) for the whole interval is excluded",
            chunk.describe_rows(at_night),
        )
        over_cap = ~missing & (energy_wh > cap_wh[chunk.meter_codes])
        findings.add(
            "ABOVE_AC_CAPACITY",
            Severity.FLAG,
            int(over_cap.sum()),
            "interval energy above 1.1 × AC rating × interval length is excluded",
            chunk.describe_rows(over_cap),
        )
        flatline = chunk.identical_runs(energy_wh, FLATLINE_MIN_S)
        findings.add(
            "FLATLINE",
            Severity.FLAG,
            int(flatline.sum()),
            "identical non-zero readings for more than 4 hours (stuck register or estimated data)",
            chunk.describe_rows(flatline),
        )
        gap_count, gap_examples = chunk.missing_intervals(missing)
        findings.add(
            "GAP",
            Severity.INFO,
            gap_count,
            "intervals without a reading are not credited and never interpolated",
            gap_examples,
        )
        credited = ~missing & ~negative & ~at_night & ~over_cap
        late = credited & (chunk.start_s >= recalibration_s)
        findings.add(
            "LATE_CALIBRATION",
            Severity.FLAG,
            int(late.sum()),
            f"readings after the calibration due date {params.calibration_due_date} are reduced by the "
            f"class {params.meter_accuracy_class} maximum permissible error ({max_error * 100}%)",
            chunk.describe_rows(late),
        )
        credited_wh = np.where(credited, energy_wh, 0)
        counted_import_wh = np.where(negative_import, 0, import_wh)
        excluded_wh = np.where(~missing & ~credited & (energy_wh > 0), energy_wh, 0)
        year_index = chunk.vintage_year - series.first_year
        credited_by_meter_year += np.bincount(
            chunk.meter_codes * len(years) + year_index,
            weights=credited_wh,
            minlength=len(credited_by_meter_year),
        )
        periods.update(chunk)
        for year in chunk.years:
            in_year = chunk.vintage_year == year
            year_totals = totals.setdefault(year, _YearTotals())
            year_totals.generation_wh += int(credited_wh[in_year].sum())
            year_totals.imports_wh += int(counted_import_wh[in_year].sum())
            year_totals.late_wh += int(credited_wh[in_year & late].sum())
            year_totals.excluded_wh += int(excluded_wh[in_year].sum())

    _check_specific_yield(
        series, years, credited_by_meter_year, capacity_kwp, bool(params.meter_ratings), findings
    )
    resolved: dict[int, ResolvedFactor] = {}
    vintages: list[VintageAmounts] = []
    for year, year_totals in sorted(totals.items()):
        factor = resolve_grid_factor(context.factors, params, year, context.pinned_factor_ids)
        resolved[year] = factor
        kg_per_wh = factor.value_fraction / 1000
        certificate_wh = Fraction(params.green_certificate_kwh_by_year.get(year, Decimal(0))) * 1000
        period_start, period_end = periods.period(year, series)
        vintages.append(
            VintageAmounts(
                vintage_year=year,
                period_start=period_start,
                period_end=period_end,
                baseline_kg=year_totals.generation_wh * kg_per_wh,
                project_kg=year_totals.imports_wh * kg_per_wh,
                late_calibration_kg=year_totals.late_wh * max_error * kg_per_wh,
                green_certificate_kg=certificate_wh * kg_per_wh,
                credited_energy_wh=year_totals.generation_wh,
                excluded_energy_wh=year_totals.excluded_wh,
            )
        )
    return build_quantification(
        methodology_id=context.methodology_id,
        methodology_version=context.methodology_version,
        input_fingerprint=context.input_fingerprint,
        vintages=vintages,
        factors=factors_used(resolved),
        findings=findings,
    )


def _check_specific_yield(
    series: IntervalSeries,
    years: np.ndarray,
    credited_by_meter_year: np.ndarray,
    capacity_kwp: np.ndarray,
    per_meter: bool,
    findings: FindingCollector,
) -> None:
    """Credited kWh per kWp in each vintage year (not annualised: a part year can only be lower)."""
    if per_meter:
        specific_yield = credited_by_meter_year / 1000 / np.repeat(capacity_kwp, len(years))
        labels = [f"{meter} {year}" for meter in series.meter_ids for year in years.tolist()]
    else:
        specific_yield = credited_by_meter_year.reshape(len(series.meter_ids), len(years)).sum(axis=0) / 1000
        specific_yield /= capacity_kwp[0]
        labels = [f"plant {year}" for year in years.tolist()]
    for severity, threshold, code in (
        (Severity.REJECT, SPECIFIC_YIELD_REJECT_KWH_PER_KWP, "SPECIFIC_YIELD_IMPLAUSIBLE"),
        (Severity.FLAG, SPECIFIC_YIELD_FLAG_KWH_PER_KWP, "SPECIFIC_YIELD_HIGH"),
    ):
        above = specific_yield > threshold
        if severity is Severity.FLAG:
            above &= specific_yield <= SPECIFIC_YIELD_REJECT_KWH_PER_KWP
        findings.add(
            code,
            severity,
            int(above.sum()),
            f"annual specific yield above {threshold} kWh/kWp",
            [f"{labels[i]}: {int(specific_yield[i])} kWh/kWp" for i in np.flatnonzero(above)],
        )


METHODOLOGY: Methodology[PvParams] = Methodology(
    id="CIR-PV-DG",
    version="1.0",
    title="Distributed photovoltaic generation",
    applicability=(
        "Grid-connected rooftop or ground PV in mainland China with revenue-grade interval metering "
        "(15-minute or hourly) of generation; generation claimed as green certificates is declared "
        "and deducted."
    ),
    params_model=PvParams,
    input_schema=INPUT_SCHEMA,
    asset_column="meter_id",
    asset_kind=AssetKind.METER,
    quantify_function=_quantify,
)
