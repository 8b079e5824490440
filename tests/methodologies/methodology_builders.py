"""Builders for small, readable monitoring data sets used across the methodology tests."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def pv_rows(
    meter_id: str, first: str, readings_kwh: Iterable[float | None], minutes: int = 60
) -> pd.DataFrame:
    """Consecutive interval readings of one meter from a local start time."""
    start = local(first)
    values = list(readings_kwh)
    return pd.DataFrame(
        {
            "meter_id": [meter_id] * len(values),
            "timestamp": [(start + timedelta(minutes=minutes * i)).isoformat() for i in range(len(values))],
            "energy_kwh": values,
        }
    )


def pv_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "region": "CN-JS",
        "capacity_kwp": "100",
        "inverter_ac_kw": "100",
        "latitude": 31.3,
        "longitude": 120.6,
        "meter_accuracy_class": "1",
        "calibration_due_date": "2030-12-31",
    }
    params.update(overrides)
    return params


def daytime_pv(days: int = 3, first_day: str = "2023-06-01", kwh: float = 50.0) -> pd.DataFrame:
    """Hourly readings 09:00–15:00 local on consecutive days, varying so no flatline forms."""
    frames = []
    for day in range(days):
        date = (local(f"{first_day}T00:00") + timedelta(days=day)).date().isoformat()
        frames.append(pv_rows("M1", f"{date}T09:00", [kwh, kwh + 1, kwh, kwh + 1, kwh, kwh + 1]))
    return pd.concat(frames, ignore_index=True)


def finding(quantification: Any, code: str) -> Any:
    matches = [f for f in quantification.qa_findings if f.code == code]
    assert matches, f"no {code} finding in {[f.code for f in quantification.qa_findings]}"
    return matches[0]


def codes(quantification: Any) -> set[str]:
    return {f.code for f in quantification.qa_findings}


# --- worked examples of the methodology pages, shared by their tests and the docs tests ---


def worked_example_data() -> pd.DataFrame:
    """1 MWp in Shanghai: 110 days × 10 daylight hours averaging 1,000 kWh = 1,100,000 kWh."""
    frames = []
    for day in range(110):
        date = (local("2023-04-01T00:00") + timedelta(days=day)).date().isoformat()
        frames.append(pv_rows("SH-1", f"{date}T08:00", [999.5, 1000.5] * 5))
    return pd.concat(frames, ignore_index=True)


WORKED_EXAMPLE_PARAMS = pv_params(
    region="CN-SH",
    capacity_kwp="1000",
    inverter_ac_kw="1000",
    latitude=31.23,
    longitude=121.47,
    grid_factor_pin={"factor_id": "SH-SEEB-2022-LOCAL"},
)


def nights(
    nights_count: int, night_kwh: float, day_kwh: float = 0.0, first: str = "2012-03-01"
) -> pd.DataFrame:
    """Hourly readings of circuit L1, 24 h a day, from 18:00 local on the first evening."""
    start = local(f"{first}T18:00")
    hours = nights_count * 24
    stamps = [start + timedelta(hours=h) for h in range(hours)]
    energy = [night_kwh if (t.hour >= 18 or t.hour < 6) else day_kwh for t in stamps]
    return pd.DataFrame(
        {"circuit_id": "L1", "timestamp": [t.isoformat() for t in stamps], "energy_kwh": energy}
    )


def light_params(**overrides: Any) -> dict[str, Any]:
    return {
        "region": "CN-JS",
        "circuits": {"L1": {"fixture_count": 100, "rated_power_w": "250"}},
        "operating_window": {"start": "18:00", "end": "06:00"},
    } | overrides


EAST_2012_PIN = {
    "factor_id": "NDRC-2012-EAST-GRID-AVERAGE",
    "value_kg_per_kwh": "0.7035",
    "source": "NDRC, 2011 and 2012 China regional grid average CO2 emission factors: East China grid 2012",
}


FIRST, SECOND = "2022-07-01", "2023-07-01"


def stratum(
    stratum_id: str, when: str, wetland_type: str, area_ha: float, salinity: float | None
) -> dict[str, Any]:
    return {
        "record": "stratum",
        "stratum_id": stratum_id,
        "monitoring_date": when,
        "wetland_type": wetland_type,
        "area_ha": area_ha,
        "salinity_ppt": salinity,
    }


def plot(stratum_id: str, when: str, plot_id: str, biomass: float, soc: float) -> dict[str, Any]:
    return {
        "record": "plot",
        "stratum_id": stratum_id,
        "monitoring_date": when,
        "plot_id": plot_id,
        "biomass_tc_per_ha": biomass,
        "soc_tc_per_ha": soc,
    }


def worked_example_rows() -> list[dict[str, Any]]:
    """Stratum A: mangrove, 20 ha, 4 permanent plots, seawater. Stratum B: tidal marsh, 10 ha,
    no plots, brackish (salinity not measured)."""
    rows = [stratum("A", d, "mangrove", 20, 25) for d in (FIRST, SECOND)]
    rows += [stratum("B", d, "tidal_marsh", 10, None) for d in (FIRST, SECOND)]
    for plot_id, before, gain in (
        ("A1", 150.0, 2.0),
        ("A2", 160.0, 2.4),
        ("A3", 170.0, 1.6),
        ("A4", 180.0, 2.0),
    ):
        rows.append(plot("A", FIRST, plot_id, 50.0, before - 50.0))
        rows.append(plot("A", SECOND, plot_id, 50.0 + gain / 2, before - 50.0 + gain / 2))
    return rows
