"""The demo's synthetic data pass the real plugins the way an upload does: CSV → load_table → quantify."""

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from demo.data import (
    EV_HUB_CHARGERS,
    FACTORY_ROOF_METERS,
    HOUSEHOLD_METERS,
    ev_year,
    pv_year,
    wetland_inventory,
    write_csv,
)
from methodologies.loading import load_table
from methodologies.quantification import Quantification, Severity
from methodologies.registry import get_methodology

YEAR = 2025
# Vintages after 2023 use the latest East China grid factor the table publishes: 2023, 0.5500 kg/kWh.
EAST_GRID_FACTOR_ID = "MEE-NBS-2023-EAST"
EAST_GRID_KG_PER_KWH = Fraction("0.5500")
# Passenger-car defaults: 0.9 / 16 kWh per 100 km × 5.0 L per 100 km × 2.15 kg/L, less the grid's 0.5500.
EV_NET_KG_PER_KWH = Fraction(9, 10) / 16 * 5 * Fraction("2.15") - EAST_GRID_KG_PER_KWH


def quantify_upload(methodology_id: str, data: pd.DataFrame, params: dict[str, Any], path: Path) -> Quantification:
    methodology = get_methodology(methodology_id)
    write_csv(data, path)
    # Parameters reach the API as JSON: they must survive it.
    return methodology.quantify(load_table(path, methodology.input_schema), json.loads(json.dumps(params)))


def csv_bytes(data: pd.DataFrame, path: Path) -> bytes:
    write_csv(data, path)
    return path.read_bytes()


def test_demo_assets_match_the_demo_story() -> None:
    assert [meter for meter, _ in HOUSEHOLD_METERS] == [f"SIP-HH-{n:02d}" for n in range(1, 21)]
    assert all(5 <= kwp <= 12 for _, kwp in HOUSEHOLD_METERS)
    assert sum(kwp for _, kwp in FACTORY_ROOF_METERS) == 1200
    assert len(EV_HUB_CHARGERS) == 12 and {kw for _, kw in EV_HUB_CHARGERS} == {7.0, 60.0, 120.0}


@pytest.mark.parametrize(
    ("meters", "accuracy_class", "inverter_ac_kw"),
    [(HOUSEHOLD_METERS[:2], "1", "12.8"), (FACTORY_ROOF_METERS, "0.5S", "1000")],
    ids=["two-households", "factory-roof"],
)
def test_pv_year_is_credited_in_full_without_findings(
    meters: list[tuple[str, float]], accuracy_class: str, inverter_ac_kw: str, tmp_path: Path
) -> None:
    data, params = pv_year(meters, YEAR, seed=7)
    result = quantify_upload("CIR-PV-DG", data, params, tmp_path / "pv.csv")

    assert list(data.columns) == ["meter_id", "timestamp", "energy_kwh"]
    assert len(data) == len(meters) * 365 * 96
    assert data["timestamp"].iloc[0] == "2025-01-01T00:00:00+08:00"
    assert data["timestamp"].iloc[-1] == "2025-12-31T23:45:00+08:00"
    assert (params["meter_accuracy_class"], params["inverter_ac_kw"]) == (accuracy_class, inverter_ac_kw)
    assert params["calibration_due_date"] > f"{YEAR}-12-31" and params["green_certificate_kwh_by_year"] == {}
    # Gaps, night generation, clipping above 1.1 × AC, flatlines, high yield: none at all.
    assert not result.rejected and result.qa_findings == ()
    (vintage,) = result.vintages
    assert (vintage.vintage_year, vintage.period_start, vintage.period_end) == (
        YEAR,
        "2025-01-01T00:00:00+08:00",
        "2026-01-01T00:00:00+08:00",
    )
    assert vintage.excluded_energy_wh == 0
    assert [(f.factor_id, f.selection) for f in result.factors] == [(EAST_GRID_FACTOR_ID, "latest published year")]
    # Net = credited kWh × 0.5500, rounded down once.
    credited_wh = result.totals.credited_energy_wh
    assert credited_wh is not None and credited_wh == round(data["energy_kwh"].sum() * 1000)
    assert result.totals.net_reduction_kg == math.floor(Fraction(credited_wh, 1000) * EAST_GRID_KG_PER_KWH)
    kwh_by_meter = data.groupby("meter_id")["energy_kwh"].sum()
    for meter_id, capacity_kwp in meters:
        assert 1050 <= kwh_by_meter[meter_id] / capacity_kwp <= 1200
    ac_kw = data["meter_id"].map({meter: float(r["inverter_ac_kw"]) for meter, r in params["meter_ratings"].items()})
    assert (data["energy_kwh"] <= ac_kw * 0.25).all()


def test_pv_year_is_deterministic_and_meters_are_independent(tmp_path: Path) -> None:
    one, _ = pv_year(HOUSEHOLD_METERS[:1], YEAR, seed=3)
    two, _ = pv_year(HOUSEHOLD_METERS[:2], YEAR, seed=3)
    again, _ = pv_year(HOUSEHOLD_METERS[:1], YEAR, seed=3)
    assert csv_bytes(one, tmp_path / "a.csv") == csv_bytes(again, tmp_path / "b.csv")
    # Adding a meter changes no other meter's readings.
    assert one["energy_kwh"].tolist() == two["energy_kwh"].iloc[: len(one)].tolist()
    other_seed, _ = pv_year(HOUSEHOLD_METERS[:1], YEAR, seed=4)
    assert one["energy_kwh"].tolist() != other_seed["energy_kwh"].tolist()


def test_pv_leap_year_has_every_quarter_hour() -> None:
    data, _ = pv_year(HOUSEHOLD_METERS[:1], 2024, seed=1)
    assert len(data) == 366 * 96
    assert (data["timestamp"].iloc[0], data["timestamp"].iloc[-1]) == (
        "2024-01-01T00:00:00+08:00",
        "2024-12-31T23:45:00+08:00",
    )


def test_ev_year_is_credited_without_findings(tmp_path: Path) -> None:
    data, params = ev_year(EV_HUB_CHARGERS, YEAR, seed=7)
    result = quantify_upload("CIR-EV-CHG", data, params, tmp_path / "ev.csv")

    assert list(data.columns) == ["charger_id", "session_id", "start", "end", "energy_kwh"]
    assert not result.rejected and result.qa_findings == ()
    assert [v.vintage_year for v in result.vintages] == [YEAR]
    assert result.totals.excluded_energy_wh == 0
    credited_wh = result.totals.credited_energy_wh
    assert credited_wh is not None and credited_wh == round(data["energy_kwh"].sum() * 1000)
    assert result.totals.net_reduction_kg == math.floor(Fraction(credited_wh, 1000) * EV_NET_KG_PER_KWH)
    assert data["session_id"].is_unique
    assert data["start"].str.endswith("+08:00").all() and data["end"].str.endswith("+08:00").all()

    sessions = data.assign(
        start=pd.to_datetime(data["start"], format="ISO8601"),
        end=pd.to_datetime(data["end"], format="ISO8601"),
        rated_kw=data["charger_id"].map(dict(EV_HUB_CHARGERS)),
    ).sort_values(["charger_id", "start"])
    hours = (sessions["end"] - sessions["start"]).dt.total_seconds() / 3600
    assert (hours > 0).all() and (hours <= 24).all()
    assert (sessions["energy_kwh"] <= sessions["rated_kw"] * hours * 1.05).all()
    same_charger = sessions["charger_id"].eq(sessions["charger_id"].shift())
    assert (sessions["start"] >= sessions["end"].shift())[same_charger].all()
    # A few sessions a day: about one at an AC post, four to six at a DC charger.
    per_day = sessions.groupby("charger_id").size() / 365
    assert per_day.between(0.5, 7).all()
    assert per_day[sessions.loc[sessions["rated_kw"] > 22, "charger_id"].unique()].min() >= 3


def test_ev_year_is_deterministic(tmp_path: Path) -> None:
    first, _ = ev_year(EV_HUB_CHARGERS, YEAR, seed=11)
    second, _ = ev_year(EV_HUB_CHARGERS, YEAR, seed=11)
    assert csv_bytes(first, tmp_path / "a.csv") == csv_bytes(second, tmp_path / "b.csv")


def test_wetland_inventory_is_credited_for_2024_and_2025(tmp_path: Path) -> None:
    data, params = wetland_inventory(seed=7)
    result = quantify_upload("CIR-WET-SINK", data, params, tmp_path / "wetland.csv")

    assert params == {}
    assert not result.rejected
    assert all(f.severity is Severity.INFO for f in result.qa_findings)
    assert [(v.vintage_year, v.period_start, v.period_end) for v in result.vintages] == [
        (2024, "2024-07-01", "2024-12-31"),
        (2025, "2025-01-01", "2025-06-30"),
    ]
    # 300 ha kept at both dates; the lower marsh's 2.5 ha seaward growth is not credited.
    assert (result.totals.credited_area_m2, result.totals.excluded_area_m2) == (3_000_000, 25_000)
    # Only the 70 ha brackish reed stratum emits methane: 70 × 193.7 kg CH4 × 28 = 379,652 kg over
    # one year, split between the vintages and each part rounded up.
    assert result.totals.project_kg in (379_652, 379_653)
    # Strata means: (140 × 1.2 + 90 × 1.8 + 70 × 1.6) t C × 44/12 = 1,620.7 t CO2 removed; less
    # 379.7 t CH4 and the 10 % buffer ≈ 1,117 t. The band allows for the plots' sampling noise.
    assert 900_000 <= result.totals.net_reduction_kg <= 1_300_000
    assert result.totals.deductions.buffer_kg > 0


def test_wetland_inventory_is_deterministic(tmp_path: Path) -> None:
    first, _ = wetland_inventory(seed=5)
    second, _ = wetland_inventory(seed=5)
    assert csv_bytes(first, tmp_path / "a.csv") == csv_bytes(second, tmp_path / "b.csv")
