"""CIR-EV-CHG 1.0 — public or fleet EV charging displacing liquid-fuel vehicle kilometres.

Baseline = distance × fuel economy × fuel factor, distance = energy × (1 − losses) /
consumption; project = grid energy × grid factor; reductions never below zero. Every
default leans the conservative way (lower baseline, higher project emissions).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import Field

from methodologies.canonical import CanonicalInput
from methodologies.errors import InputDataError
from methodologies.factors import GridParams, ResolvedFactor, factors_used, resolve_grid_factor
from methodologies.metering import local_iso, vintage_years, zone
from methodologies.plugin import AssetKind, Methodology, QuantifyContext
from methodologies.quantification import (
    FactorUsed,
    FindingCollector,
    Quantification,
    Severity,
    VintageAmounts,
    build_quantification,
)
from methodologies.schema import ColumnSpec, InputSchema

VehicleClass = Literal["passenger_car", "bus", "light_truck"]
Fuel = Literal["gasoline", "diesel"]
MAX_SESSION_S = 24 * 3600
# Energy above rated power × duration × 1.05 cannot have flowed through the charger.
RATED_HEADROOM = Fraction(105, 100)

_IPCC_FUEL = (
    "IPCC 2006 Guidelines Vol. 2 ch. 1: lower 95 % bound of the CO2 factor (Table 1.4) × default "
    "net calorific value (Table 1.2) × density at the low end of the GB fuel standard"
)
# kg CO2 per litre: gasoline 67.5 t/TJ × 44.3 TJ/Gg × 0.72 kg/L = 2.153; diesel 72.6 t/TJ ×
# 43.0 TJ/Gg × 0.82 kg/L = 2.560 — both rounded down.
FUEL_EMISSION_FACTOR_KG_PER_L: dict[str, Decimal] = {"gasoline": Decimal("2.15"), "diesel": Decimal("2.55")}


@dataclass(frozen=True)
class VehicleDefaults:
    ev_consumption_kwh_per_100km: Decimal
    fuel: Fuel
    fuel_economy_l_per_100km: Decimal


# Conservative on both sides: a thrifty displaced vehicle and a thirsty EV.
VEHICLE_DEFAULTS: dict[str, VehicleDefaults] = {
    "passenger_car": VehicleDefaults(Decimal("16"), "gasoline", Decimal("5.0")),
    "bus": VehicleDefaults(Decimal("110"), "diesel", Decimal("25")),
    "light_truck": VehicleDefaults(Decimal("30"), "diesel", Decimal("9.0")),
}
VEHICLE_DEFAULTS_SOURCE = (
    "CIR-EV-CHG 1.0 conservative defaults (docs/methodologies/CIR-EV-CHG.md), set against "
    "T/CSAE 235-2021 and Verra VM0038 practice"
)


class EvParams(GridParams):
    charger_rated_kw: Decimal = Field(gt=0, decimal_places=3, description="Rated power of each charger")
    charger_ratings_kw: dict[str, Decimal] = Field(
        default_factory=dict, description="Per-charger rated power overriding charger_rated_kw"
    )
    vehicle_class: VehicleClass = "passenger_car"
    ev_consumption_kwh_per_100km: Decimal | None = Field(default=None, gt=0)
    fuel: Fuel | None = None
    fuel_economy_l_per_100km: Decimal | None = Field(default=None, gt=0)
    fuel_emission_factor_kg_per_l: Decimal | None = Field(default=None, gt=0)
    charging_loss_share: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1)
    green_power_share: Decimal = Field(default=Decimal("0"), ge=0, le=1)


INPUT_SCHEMA = InputSchema(
    (
        ColumnSpec("charger_id", "text", "Charger (connector) identifier"),
        ColumnSpec("session_id", "text", "Charging session identifier"),
        ColumnSpec("start", "timestamp", "Session start, ISO 8601 with UTC offset"),
        ColumnSpec("end", "timestamp", "Session end, ISO 8601 with UTC offset"),
        ColumnSpec("energy_kwh", "number", "Energy delivered in the session", scale=3),
    )
)


@dataclass(frozen=True)
class _Vehicle:
    ev_consumption_kwh_per_100km: Decimal
    fuel: str
    fuel_economy_l_per_100km: Decimal
    fuel_factor_kg_per_l: Decimal
    factors: list[FactorUsed]


def _vehicle(params: EvParams) -> _Vehicle:
    defaults = VEHICLE_DEFAULTS[params.vehicle_class]
    fuel = params.fuel or defaults.fuel

    def chosen(value: Decimal | None, default: Decimal) -> tuple[Decimal, str, str]:
        if value is None:
            return default, "methodology default", "CIR-EV-CHG 1.0"
        return value, "set by project", "project parameters"

    consumption, consumption_how, consumption_version = chosen(
        params.ev_consumption_kwh_per_100km, defaults.ev_consumption_kwh_per_100km
    )
    economy, economy_how, economy_version = chosen(
        params.fuel_economy_l_per_100km, defaults.fuel_economy_l_per_100km
    )
    fuel_factor, fuel_how, fuel_version = chosen(
        params.fuel_emission_factor_kg_per_l, FUEL_EMISSION_FACTOR_KG_PER_L[fuel]
    )
    return _Vehicle(
        consumption,
        fuel,
        economy,
        fuel_factor,
        [
            FactorUsed(
                factor_id=f"CIR-EV-{params.vehicle_class}-ev-consumption",
                value=str(consumption),
                unit="kWh/100km",
                source=VEHICLE_DEFAULTS_SOURCE if consumption_how == "methodology default" else "project",
                version=consumption_version,
                selection=consumption_how,
                vintage_years=(),
            ),
            FactorUsed(
                factor_id=f"CIR-EV-{params.vehicle_class}-{fuel}-economy",
                value=str(economy),
                unit="L/100km",
                source=VEHICLE_DEFAULTS_SOURCE if economy_how == "methodology default" else "project",
                version=economy_version,
                selection=economy_how,
                vintage_years=(),
            ),
            FactorUsed(
                factor_id=f"IPCC-2006-{fuel}-co2",
                value=str(fuel_factor),
                unit="kgCO2/L",
                source=_IPCC_FUEL if fuel_how == "methodology default" else "project",
                version=fuel_version,
                selection=fuel_how,
                vintage_years=(),
            ),
        ],
    )


def _rated_w(codes: np.ndarray, charger_ids: tuple[str, ...], params: EvParams) -> np.ndarray:
    per_charger = [params.charger_ratings_kw.get(charger, params.charger_rated_kw) for charger in charger_ids]
    return np.array([int(kw * 1000) for kw in per_charger], dtype=np.int64)[codes]


def _energy_by_year(
    start_s: np.ndarray,
    end_s: np.ndarray,
    start_year: np.ndarray,
    end_year: np.ndarray,
    energy_wh: np.ndarray,
    tz: ZoneInfo,
) -> dict[int, int]:
    """Energy per local calendar year; a session over New Year is split pro rata by time,
    each earlier year rounded down and the last year taking the remainder."""
    by_year: dict[int, int] = {}
    same = start_year == end_year
    for year in np.unique(start_year[same]).tolist():
        by_year[year] = by_year.get(year, 0) + int(energy_wh[same & (start_year == year)].sum())
    # Sessions spanning New Year are rare; a short loop over them only.
    for position in np.flatnonzero(~same).tolist():
        begin, finish, remaining = int(start_s[position]), int(end_s[position]), int(energy_wh[position])
        for year in range(int(start_year[position]), int(end_year[position]) + 1):
            year_end = min(finish, int(datetime(year + 1, 1, 1, tzinfo=tz).timestamp()))
            share = remaining if year_end == finish else remaining * (year_end - begin) // (finish - begin)
            by_year[year] = by_year.get(year, 0) + share
            remaining -= share
            begin = year_end
    return by_year


def _overlapping(charger_codes: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
    """Every session that overlaps another on the same charger (both of each pair)."""
    order = np.lexsort((start_s, charger_codes))
    codes, start, end = charger_codes[order], start_s[order], end_s[order]
    same_charger = codes[1:] == codes[:-1]
    group_start = np.concatenate(([True], ~same_charger))
    # Per-charger running maximum of ends, as one global running maximum over ends lifted
    # by charger index × span (charger groups are contiguous and in increasing order).
    group = np.cumsum(group_start) - 1
    span = int(end.max() - end.min()) + 1
    lifted = (end - end.min()) + group * span
    running = np.maximum.accumulate(lifted)
    earlier_max_end = np.empty_like(end)
    earlier_max_end[1:] = running[:-1] - group[1:] * span + end.min()
    earlier_max_end[0] = start[0]
    overlaps_earlier = ~group_start & (start < earlier_max_end)
    # Sorted by start, the next session on the charger has the earliest later start.
    overlaps_later = np.zeros(len(order), dtype=bool)
    overlaps_later[:-1] = same_charger & (start[1:] < end[:-1])
    overlapping = np.zeros(len(order), dtype=bool)
    overlapping[order] = overlaps_earlier | overlaps_later
    return overlapping


def _quantify(canonical: CanonicalInput, params: EvParams, context: QuantifyContext) -> Quantification:
    tz = zone(params.timezone)
    chargers = canonical.columns["charger_id"]
    sessions = canonical.columns["session_id"]
    charger_codes = chargers.values.astype(np.int64)
    session_codes = sessions.values.astype(np.int64)
    start_s = canonical.columns["start"].values // 1_000_000
    end_s = canonical.columns["end"].values // 1_000_000
    energy_wh = canonical.columns["energy_kwh"].values
    not_after = end_s <= start_s
    if not_after.any():
        position = int(np.argmax(not_after))
        raise InputDataError(
            "session ends before it starts", column="end", row=canonical.source_row(position)
        )

    def describe(mask: np.ndarray) -> list[str]:
        return [
            f"{chargers.categories[int(charger_codes[p])]} session "
            f"{sessions.categories[int(session_codes[p])]} {local_iso(int(start_s[p]), tz)}"
            for p in np.flatnonzero(mask)[:5]
        ]

    findings = FindingCollector()
    # Canonical order is (charger, session id, …), so repeats of an id are adjacent.
    same_session = (charger_codes[1:] == charger_codes[:-1]) & (session_codes[1:] == session_codes[:-1])
    repeated_id = np.zeros(len(start_s), dtype=bool)
    repeated_id[1:] |= same_session
    repeated_id[:-1] |= same_session
    findings.add(
        "DUPLICATE_SESSION",
        Severity.REJECT,
        int(repeated_id.sum()),
        "one session id appears more than once on a charger: it would be counted twice",
        describe(repeated_id),
    )
    overlapping = _overlapping(charger_codes, start_s, end_s)
    findings.add(
        "OVERLAPPING_SESSIONS",
        Severity.FLAG,
        int(overlapping.sum()),
        "sessions overlapping in time on one charger are all excluded",
        describe(overlapping),
    )
    negative = energy_wh < 0
    findings.add(
        "NEGATIVE_ENERGY",
        Severity.FLAG,
        int(negative.sum()),
        "negative energy is excluded",
        describe(negative),
    )
    duration_s = end_s - start_s
    rated_w = _rated_w(charger_codes, chargers.categories, params)
    # energy_wh > rated_w × duration_h × 1.05, kept in integers: both sides × 3600 × 100.
    over_rated = energy_wh * 360_000 > rated_w * duration_s * 105
    findings.add(
        "ABOVE_RATED_POWER",
        Severity.FLAG,
        int(over_rated.sum()),
        "session energy above rated power × duration × 1.05 is excluded",
        describe(over_rated),
    )
    too_long = duration_s > MAX_SESSION_S
    findings.add(
        "SESSION_OVER_24H",
        Severity.FLAG,
        int(too_long.sum()),
        "sessions longer than 24 hours",
        describe(too_long),
    )
    credited = ~overlapping & ~negative & ~over_rated
    start_year = vintage_years(start_s, tz)
    # A session ending exactly at midnight on 1 January belongs wholly to the old year.
    end_year = vintage_years(end_s - 1, tz)
    credited_wh = _energy_by_year(
        start_s[credited], end_s[credited], start_year[credited], end_year[credited], energy_wh[credited], tz
    )
    excluded_wh = _energy_by_year(
        start_s[~credited],
        end_s[~credited],
        start_year[~credited],
        end_year[~credited],
        np.maximum(energy_wh[~credited], 0),
        tz,
    )

    vehicle = _vehicle(params)
    # kg CO2 of displaced fuel per kWh charged: (1 − losses) / consumption × economy × fuel factor
    # (the two "per 100 km" cancel).
    baseline_kg_per_kwh = (
        (1 - Fraction(params.charging_loss_share))
        / Fraction(vehicle.ev_consumption_kwh_per_100km)
        * Fraction(vehicle.fuel_economy_l_per_100km)
        * Fraction(vehicle.fuel_factor_kg_per_l)
    )
    grid_share = 1 - Fraction(params.green_power_share)
    resolved: dict[int, ResolvedFactor] = {}
    vintages: list[VintageAmounts] = []
    for year in sorted(set(credited_wh) | set(excluded_wh)):
        factor = resolve_grid_factor(context.factors, params, year, context.pinned_factor_ids)
        resolved[year] = factor
        energy_kwh = Fraction(credited_wh.get(year, 0), 1000)
        touching = (start_year <= year) & (end_year >= year)
        period_start = max(int(start_s[touching].min()), int(datetime(year, 1, 1, tzinfo=tz).timestamp()))
        period_end = min(int(end_s[touching].max()), int(datetime(year + 1, 1, 1, tzinfo=tz).timestamp()))
        vintages.append(
            VintageAmounts(
                vintage_year=year,
                period_start=local_iso(period_start, tz),
                period_end=local_iso(period_end, tz),
                baseline_kg=energy_kwh * baseline_kg_per_kwh,
                project_kg=energy_kwh * grid_share * factor.value_fraction,
                credited_energy_wh=credited_wh.get(year, 0),
                excluded_energy_wh=excluded_wh.get(year, 0),
            )
        )
    return build_quantification(
        methodology_id=context.methodology_id,
        methodology_version=context.methodology_version,
        input_fingerprint=context.input_fingerprint,
        vintages=vintages,
        factors=factors_used(resolved) + vehicle.factors,
        findings=findings,
    )


METHODOLOGY: Methodology[EvParams] = Methodology(
    id="CIR-EV-CHG",
    version="1.0",
    title="Electric vehicle charging",
    applicability=(
        "Metered AC or DC charging of road vehicles at chargers the project operates in mainland China; "
        "the displaced vehicle is a liquid-fuel vehicle of the same class."
    ),
    params_model=EvParams,
    input_schema=INPUT_SCHEMA,
    asset_column="charger_id",
    asset_kind=AssetKind.CHARGER,
    quantify_function=_quantify,
)
