"""CIR-LIGHT 1.0 — lighting retrofit (e.g. sodium or fluorescent to LED), metered per circuit.

The baseline is what the old fixtures would have drawn during the intervals the new ones
were metered inside the operating window: fixture count × rated power × interval length.
Reductions = (baseline energy − metered energy) × grid factor, never below zero.
"""

from datetime import time
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from methodologies.canonical import CanonicalInput
from methodologies.errors import InputDataError
from methodologies.factors import GridParams, ResolvedFactor, factors_used, resolve_grid_factor
from methodologies.metering import MISSING, VintagePeriods, prepare_intervals
from methodologies.plugin import AssetKind, Methodology, QuantifyContext
from methodologies.quantification import (
    FindingCollector,
    Quantification,
    Severity,
    VintageAmounts,
    build_quantification,
)
from methodologies.schema import ColumnSpec, InputSchema


class BaselineCircuit(BaseModel):
    """The fixtures a circuit fed before the retrofit, from the pre-retrofit inventory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fixture_count: int = Field(gt=0)
    rated_power_w: Decimal = Field(gt=0, description="Rated input power per fixture, ballast included")


class OperatingWindow(BaseModel):
    """Local time of day in which the lights are meant to run; may cross midnight (18:00–06:00)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time


class LightingParams(GridParams):
    circuits: dict[str, BaselineCircuit] = Field(min_length=1)
    operating_window: OperatingWindow
    interval_minutes: Literal[15, 60] | None = None


INPUT_SCHEMA = InputSchema(
    (
        ColumnSpec("circuit_id", "text", "Lighting circuit (sub-meter) identifier"),
        ColumnSpec("timestamp", "timestamp", "Interval start, ISO 8601 with UTC offset"),
        ColumnSpec(
            "energy_kwh",
            "number",
            "Energy the new fixtures drew in the interval; empty = no reading",
            nullable=True,
            scale=3,
        ),
    )
)


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _in_window(local_seconds: np.ndarray, window: OperatingWindow) -> np.ndarray:
    start, end = _seconds(window.start), _seconds(window.end)
    if start <= end:
        return (local_seconds >= start) & (local_seconds < end)
    return (local_seconds >= start) | (local_seconds < end)


def _quantify(canonical: CanonicalInput, params: LightingParams, context: QuantifyContext) -> Quantification:
    series = prepare_intervals(
        canonical,
        meter_column="circuit_id",
        timestamp_column="timestamp",
        timezone=params.timezone,
        interval_minutes=params.interval_minutes,
    )
    unknown = [circuit for circuit in series.meter_ids if circuit not in params.circuits]
    if unknown:
        raise InputDataError(
            f"circuit '{unknown[0]}' has no baseline in params.circuits", column="circuit_id"
        )
    interval_h = Fraction(series.interval_s, 3600)
    # Wh per interval of each circuit's old fixtures, exact.
    baseline_wh = [
        params.circuits[circuit].fixture_count * Fraction(params.circuits[circuit].rated_power_w) * interval_h
        for circuit in series.meter_ids
    ]
    baseline_floor_wh = np.array([int(wh) for wh in baseline_wh], dtype=np.int64)
    findings = FindingCollector()
    intervals_by_circuit: dict[int, np.ndarray] = {}
    metered_wh: dict[int, int] = {}
    excluded_wh: dict[int, int] = {}
    periods = VintagePeriods({})
    for chunk in series.chunks():
        energy_wh = chunk.values("energy_kwh")
        chunk.reject_duplicates(findings, "circuit")
        missing = energy_wh == MISSING
        negative = ~missing & (energy_wh < 0)
        findings.add(
            "NEGATIVE_READING",
            Severity.FLAG,
            int(negative.sum()),
            "a negative reading makes its interval a gap: neither baseline nor consumption is counted",
            chunk.describe_rows(negative),
        )
        local = pd.DatetimeIndex(chunk.start_s.astype("datetime64[s]"), tz="UTC").tz_convert(series.tz)
        local_seconds = (local.hour * 3600 + local.minute * 60 + local.second).to_numpy()
        in_window = _in_window(local_seconds, params.operating_window)
        outside = ~missing & ~in_window & (energy_wh > 0)
        findings.add(
            "OUTSIDE_OPERATING_WINDOW",
            Severity.INFO,
            int(outside.sum()),
            "consumption outside the operating window is neither baseline nor project energy",
            chunk.describe_rows(outside),
        )
        counted = ~missing & ~negative & in_window
        above_baseline = counted & (energy_wh > baseline_floor_wh[chunk.meter_codes])
        findings.add(
            "ABOVE_BASELINE_POWER",
            Severity.FLAG,
            int(above_baseline.sum()),
            "the new fixtures drew more than the old ones' rating (check the circuit's baseline inventory)",
            chunk.describe_rows(above_baseline),
        )
        gap_count, gap_examples = chunk.missing_intervals(missing | negative)
        findings.add(
            "GAP",
            Severity.INFO,
            gap_count,
            "intervals without a reading earn no baseline and are never interpolated",
            gap_examples,
        )
        periods.update(chunk)
        for year in chunk.years:
            in_year = chunk.vintage_year == year
            counted_in_year = counted & in_year
            intervals = np.bincount(chunk.meter_codes[counted_in_year], minlength=len(series.meter_ids))
            intervals_by_circuit[year] = intervals_by_circuit.get(year, 0) + intervals
            metered_wh[year] = metered_wh.get(year, 0) + int(energy_wh[counted_in_year].sum())
            not_counted = in_year & ~counted & ~missing
            excluded_wh[year] = excluded_wh.get(year, 0) + int(np.maximum(energy_wh[not_counted], 0).sum())
    resolved: dict[int, ResolvedFactor] = {}
    vintages: list[VintageAmounts] = []
    for year in sorted(metered_wh):
        baseline_energy_wh = sum(
            (
                int(count) * wh
                for count, wh in zip(intervals_by_circuit[year].tolist(), baseline_wh, strict=True)
            ),
            Fraction(0),
        )
        factor = resolve_grid_factor(context.factors, params, year, context.pinned_factor_ids)
        resolved[year] = factor
        kg_per_wh = factor.value_fraction / 1000
        period_start, period_end = periods.period(year, series)
        vintages.append(
            VintageAmounts(
                vintage_year=year,
                period_start=period_start,
                period_end=period_end,
                baseline_kg=baseline_energy_wh * kg_per_wh,
                project_kg=metered_wh[year] * kg_per_wh,
                credited_energy_wh=int(baseline_energy_wh) - metered_wh[year],
                excluded_energy_wh=excluded_wh[year],
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


METHODOLOGY: Methodology[LightingParams] = Methodology(
    id="CIR-LIGHT",
    version="1.0",
    title="Lighting retrofit",
    applicability=(
        "Replacement of lamps on dedicated, sub-metered lighting circuits (street, car park, factory "
        "or office lighting) in mainland China, with a documented pre-retrofit fixture inventory."
    ),
    params_model=LightingParams,
    input_schema=INPUT_SCHEMA,
    asset_column="circuit_id",
    asset_kind=AssetKind.METER,
    quantify_function=_quantify,
)
