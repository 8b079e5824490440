
import pandas as pd

from methodologies.lighting import METHODOLOGY as LIGHT
from methodologies.quantification import Severity
from tests.methodologies.methodology_builders import EAST_2012_PIN, codes, finding, light_params, nights


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
