from datetime import timedelta
from typing import Any

import pandas as pd
from methodology_builders import codes, finding, local

from methodologies.lighting import METHODOLOGY as LIGHT
from methodologies.quantification import Severity


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


def test_worked_example_45000_kwh_saved_at_0_7035() -> None:
    # 250 nights × 12 h = 3,000 h; old 100 × 250 W = 25 kWh/h, new 10 kWh/h: 45,000 kWh saved.
    result = LIGHT.quantify(nights(250, 10.0), light_params(grid_factor_pin=EAST_2012_PIN))
    assert result.totals.credited_energy_wh == 45_000_000
    assert result.totals.baseline_kg == 52_762  # 75,000 kWh × 0.7035 = 52,762.5
    assert result.totals.project_kg == 21_105  # 30,000 kWh × 0.7035
    assert result.totals.net_reduction_kg == 31_657  # 31,657.5 rounded down
    assert result.factors[0].selection == "pinned by project"
    assert codes(result) == set()


def test_consumption_outside_the_window_is_ignored_and_noted() -> None:
    result = LIGHT.quantify(nights(1, 10.0, day_kwh=1.0), light_params())
    found = finding(result, "OUTSIDE_OPERATING_WINDOW")
    assert (found.severity, found.count) == (Severity.INFO, 12)
    assert result.totals.credited_energy_wh == 180_000  # 12 h × 15 kWh
    assert result.totals.excluded_energy_wh == 12_000


def test_drawing_more_than_the_old_fixtures_is_flagged() -> None:
    data = nights(1, 10.0)
    data.loc[0, "energy_kwh"] = 26.0
    result = LIGHT.quantify(data, light_params())
    assert finding(result, "ABOVE_BASELINE_POWER").count == 1
    assert result.totals.credited_energy_wh == 180_000 - 16_000


def test_negative_reading_makes_its_interval_a_gap() -> None:
    data = nights(1, 10.0)
    data.loc[0, "energy_kwh"] = -1.0
    result = LIGHT.quantify(data, light_params())
    assert finding(result, "NEGATIVE_READING").count == 1
    assert finding(result, "GAP").count == 1
    assert result.totals.credited_energy_wh == 165_000  # 11 h × 15 kWh


def test_duplicate_interval_rejects() -> None:
    data = nights(1, 10.0)
    data = pd.concat([data, data.iloc[[3]]], ignore_index=True)
    result = LIGHT.quantify(data, light_params())
    assert finding(result, "DUPLICATE_TIMESTAMP").severity is Severity.REJECT
    assert result.rejected and result.totals.net_reduction_kg == 0
