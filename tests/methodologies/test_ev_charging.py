from typing import Any

import pandas as pd
import pytest

from methodologies.errors import InputDataError
from methodologies.ev_charging import METHODOLOGY as EV
from methodologies.quantification import Severity
from tests.methodologies.methodology_builders import codes, finding


def sessions(*rows: tuple[str, str, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["charger_id", "session_id", "start", "end", "energy_kwh"])


def ev_params(**overrides: Any) -> dict[str, Any]:
    return {"region": "CN-JS", "charger_rated_kw": "60"} | overrides


def test_worked_example_passenger_car_in_jiangsu() -> None:
    data = sessions(("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T18:00:00+08:00", 1000.0))
    result = EV.quantify(data, ev_params(charger_rated_kw="120"))
    # 1,000 kWh × 0.9 / 16 kWh/100 km = 5,625 km; × 5.0 L/100 km = 281.25 L; × 2.15 = 604.6875 kg
    # project 1,000 kWh × 0.5500 = 550 kg; net floor(54.6875) = 54 kg
    assert (result.totals.baseline_kg, result.totals.project_kg, result.totals.net_reduction_kg) == (
        604,
        550,
        54,
    )
    assert [f.factor_id for f in result.factors] == [
        "MEE-NBS-2023-EAST",
        "CIR-EV-passenger_car-ev-consumption",
        "CIR-EV-passenger_car-gasoline-economy",
        "IPCC-2006-gasoline-co2",
    ]
    assert {f.selection for f in result.factors[1:]} == {"methodology default"}


def test_reductions_never_go_below_zero() -> None:
    data = sessions(("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T09:00:00+08:00", 50.0))
    result = EV.quantify(data, ev_params(region="CN-BJ", fuel_economy_l_per_100km="3"))
    # baseline 50 × 0.9 / 16 × 3 × 2.15 = 18.1 kg (shown rounded down); project 50 × 0.6361 = 31.8 kg (up)
    assert result.totals.baseline_kg == 18 and result.totals.project_kg == 32
    assert result.totals.net_reduction_kg == 0


def test_green_power_share_lowers_project_emissions() -> None:
    data = sessions(("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T18:00:00+08:00", 1000.0))
    result = EV.quantify(data, ev_params(charger_rated_kw="120", green_power_share="0.5"))
    assert result.totals.project_kg == 275
    assert result.totals.net_reduction_kg == 329  # floor(604.6875 − 275)


def test_energy_above_rated_power_is_excluded() -> None:
    # 60 kW × 1 h × 1.05 = 63 kWh allowed.
    data = sessions(
        ("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T09:00:00+08:00", 63.0),
        ("C1", "s2", "2023-05-01T10:00:00+08:00", "2023-05-01T11:00:00+08:00", 63.001),
    )
    result = EV.quantify(data, ev_params())
    found = finding(result, "ABOVE_RATED_POWER")
    assert (found.severity, found.count) == (Severity.FLAG, 1)
    assert found.examples == ("C1 session s2 2023-05-01T10:00:00+08:00",)
    assert result.totals.credited_energy_wh == 63_000
    assert result.totals.excluded_energy_wh == 63_001


def test_overlapping_sessions_on_one_charger_are_both_excluded() -> None:
    data = sessions(
        ("C1", "a", "2023-05-01T08:00:00+08:00", "2023-05-01T12:00:00+08:00", 10.0),
        ("C1", "b", "2023-05-01T09:00:00+08:00", "2023-05-01T10:00:00+08:00", 20.0),
        ("C1", "c", "2023-05-01T12:00:00+08:00", "2023-05-01T13:00:00+08:00", 30.0),  # touches, no overlap
        ("C2", "d", "2023-05-01T09:00:00+08:00", "2023-05-01T10:00:00+08:00", 40.0),  # other charger
    )
    result = EV.quantify(data, ev_params())
    found = finding(result, "OVERLAPPING_SESSIONS")
    assert found.count == 2
    assert result.totals.credited_energy_wh == 70_000


def test_sessions_over_24_hours_are_flagged_but_credited() -> None:
    data = sessions(("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-02T08:00:01+08:00", 30.0))
    result = EV.quantify(data, ev_params())
    assert finding(result, "SESSION_OVER_24H").count == 1
    assert result.totals.credited_energy_wh == 30_000


def test_repeated_session_id_rejects_the_report() -> None:
    data = sessions(
        ("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T09:00:00+08:00", 30.0),
        ("C1", "s1", "2023-05-02T08:00:00+08:00", "2023-05-02T09:00:00+08:00", 30.0),
    )
    result = EV.quantify(data, ev_params())
    assert finding(result, "DUPLICATE_SESSION").severity is Severity.REJECT
    assert result.rejected and result.totals.net_reduction_kg == 0


def test_session_over_new_year_is_split_by_time() -> None:
    data = sessions(("C1", "s1", "2023-12-31T23:00:00+08:00", "2024-01-01T02:00:00+08:00", 30.0))
    result = EV.quantify(data, ev_params())
    assert [(v.vintage_year, v.credited_energy_wh) for v in result.vintages] == [
        (2023, 10_000),
        (2024, 20_000),
    ]
    assert result.vintages[0].period_end == "2024-01-01T00:00:00+08:00"
    assert "SESSION_OVER_24H" not in codes(result)


def test_session_ending_before_it_starts_is_an_input_error() -> None:
    data = sessions(
        ("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T09:00:00+08:00", 30.0),
        ("C1", "s2", "2023-05-01T10:00:00+08:00", "2023-05-01T10:00:00+08:00", 30.0),
    )
    with pytest.raises(InputDataError, match=r"column 'end', row 2: session ends before it starts"):
        EV.quantify(data, ev_params())
