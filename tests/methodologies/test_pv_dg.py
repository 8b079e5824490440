
import pandas as pd
import pytest

from methodologies.errors import InputDataError
from methodologies.pv_dg import METHODOLOGY as PV
from methodologies.quantification import Severity
from methodologies.solar import sun_down_during, sun_elevation_deg
from tests.methodologies.methodology_builders import (
    WORKED_EXAMPLE_PARAMS,
    codes,
    daytime_pv,
    finding,
    local,
    pv_params,
    pv_rows,
    worked_example_data,
)


def test_worked_example_1_mw_1100_hours_shanghai_factor_gives_462_t() -> None:
    result = PV.quantify(worked_example_data(), WORKED_EXAMPLE_PARAMS)
    assert not result.rejected
    assert result.totals.credited_energy_wh == 1_100_000_000
    assert result.totals.baseline_kg == 462_000
    assert result.totals.net_reduction_kg == 462_000
    [factor] = result.factors
    assert (factor.factor_id, factor.value, factor.selection) == (
        "SH-SEEB-2022-LOCAL",
        "0.42",
        "pinned by project",
    )
    assert codes(result) == {"GAP"}  # the nights between the days; nothing excluded


def test_default_factor_is_regional_grid_of_the_vintage_year() -> None:
    result = PV.quantify(daytime_pv(days=1), pv_params())
    # 6 readings: 50 + 51 + 50 + 51 + 50 + 51 = 303 kWh × 0.5500 (East 2023) = 166.65 kg
    assert result.totals.credited_energy_wh == 303_000
    assert result.totals.net_reduction_kg == 166
    assert result.factors[0].factor_id == "MEE-NBS-2023-EAST"


def test_duplicate_timestamps_reject_the_report_and_zero_every_quantity() -> None:
    data = daytime_pv(days=1)
    data = pd.concat([data, data.iloc[[2]]], ignore_index=True)
    result = PV.quantify(data, pv_params())
    found = finding(result, "DUPLICATE_TIMESTAMP")
    assert (found.severity, found.count) == (Severity.REJECT, 2)
    assert found.examples[0] == "M1 2023-06-01T11:00:00+08:00"
    assert result.rejected
    assert result.totals.net_reduction_kg == 0
    assert result.totals.baseline_kg == 0
    assert result.totals.credited_energy_wh == 0


def test_negative_readings_are_excluded() -> None:
    data = daytime_pv(days=1)
    data.loc[1, "energy_kwh"] = -5
    result = PV.quantify(data, pv_params())
    assert finding(result, "NEGATIVE_READING").count == 1
    assert result.totals.credited_energy_wh == 252_000
    assert not result.rejected


def test_generation_at_night_is_excluded() -> None:
    data = pd.concat([daytime_pv(days=1), pv_rows("M1", "2023-06-01T23:00", [3.0])], ignore_index=True)
    result = PV.quantify(data, pv_params())
    found = finding(result, "GENERATION_AT_NIGHT")
    assert (found.count, found.examples) == (1, ("M1 2023-06-01T23:00:00+08:00",))
    assert result.totals.credited_energy_wh == 303_000
    assert result.totals.excluded_energy_wh == 3_000


def test_dawn_interval_is_credited_although_it_starts_before_sunrise() -> None:
    # Suzhou, 1 June 2023: sunrise about 04:53 local. The 04:45 quarter hour contains it.
    start_s = int(local("2023-06-01T04:45").timestamp())
    assert sun_elevation_deg(pd.Series([start_s]).to_numpy(), 31.3, 120.6)[0] < -0.833
    data = pv_rows("M1", "2023-06-01T04:30", [0.0, 0.2, 0.5], minutes=15)
    result = PV.quantify(data, pv_params())
    assert "GENERATION_AT_NIGHT" not in codes(result)
    assert result.totals.credited_energy_wh == 700


def test_sun_down_uses_the_whole_interval() -> None:
    starts = pd.Series([local("2023-06-01T04:30"), local("2023-06-01T04:45"), local("2023-06-01T12:00")])
    start_s = starts.map(lambda t: int(t.timestamp())).to_numpy()
    assert sun_down_during(start_s, 900, 31.3, 120.6).tolist() == [True, False, False]


def test_solar_noon_elevation_matches_geometry() -> None:
    # Equator, March equinox 2024, 12:00 UTC on the prime meridian: sun within 2.5° of the zenith.
    noon_s = int(local("2024-03-20T20:00").timestamp())
    assert 87.5 < sun_elevation_deg(pd.Series([noon_s]).to_numpy(), 0.0, 0.0)[0] <= 90.0


def test_interval_energy_above_ac_headroom_is_excluded() -> None:
    # AC 100 kW, hourly: cap is 110 kWh; 110 is kept, 110.001 is excluded.
    data = pv_rows("M1", "2023-06-01T10:00", [110.0, 110.001, 50.0])
    result = PV.quantify(data, pv_params())
    assert finding(result, "ABOVE_AC_CAPACITY").count == 1
    assert result.totals.credited_energy_wh == 160_000


def test_gaps_are_not_credited_or_interpolated() -> None:
    data = daytime_pv(days=1).drop(index=[2, 3]).reset_index(drop=True)
    data.loc[0, "energy_kwh"] = None
    result = PV.quantify(data, pv_params(interval_minutes=60))
    gap = finding(result, "GAP")
    assert (gap.severity, gap.count) == (Severity.INFO, 3)  # two missing rows + one empty reading
    assert result.totals.credited_energy_wh == 152_000  # 51 + 50 + 51


def test_identical_readings_over_four_hours_are_flagged_not_excluded() -> None:
    data = pv_rows("M1", "2023-06-01T09:00", [40.0] * 5 + [41.0])
    result = PV.quantify(data, pv_params())
    found = finding(result, "FLATLINE")
    assert (found.severity, found.count) == (Severity.FLAG, 5)  # 5 h of 40.0
    assert result.totals.credited_energy_wh == 241_000
    exactly_four_hours = PV.quantify(pv_rows("M1", "2023-06-01T09:00", [40.0] * 4 + [41.0]), pv_params())
    assert "FLATLINE" not in codes(exactly_four_hours)


def test_specific_yield_over_1600_is_flagged_and_over_2000_rejects() -> None:
    data = daytime_pv(days=2)  # 606 kWh
    flagged = PV.quantify(data, pv_params(capacity_kwp="0.37"))  # 1,637 kWh/kWp
    assert finding(flagged, "SPECIFIC_YIELD_HIGH").severity is Severity.FLAG
    assert not flagged.rejected
    rejected = PV.quantify(data, pv_params(capacity_kwp="0.30"))  # 2,020 kWh/kWp
    assert finding(rejected, "SPECIFIC_YIELD_IMPLAUSIBLE").severity is Severity.REJECT
    assert "SPECIFIC_YIELD_HIGH" not in codes(rejected)
    assert rejected.rejected and rejected.totals.net_reduction_kg == 0


def test_specific_yield_per_meter_uses_meter_ratings() -> None:
    data = pd.concat([daytime_pv(days=1), daytime_pv(days=1).assign(meter_id="M2")], ignore_index=True)
    ratings = {
        "M1": {"capacity_kwp": "100", "inverter_ac_kw": "100"},
        "M2": {"capacity_kwp": "0.15", "inverter_ac_kw": "100"},
    }
    result = PV.quantify(data, pv_params(meter_ratings=ratings))
    found = finding(result, "SPECIFIC_YIELD_IMPLAUSIBLE")
    assert found.examples == ("M2 2023: 2020 kWh/kWp",)
    with pytest.raises(InputDataError, match="meter 'M2' has no entry in meter_ratings"):
        PV.quantify(data, pv_params(meter_ratings={"M1": ratings["M1"]}))


def test_readings_after_calibration_due_date_lose_the_class_error() -> None:
    data = daytime_pv(days=2)  # 303 kWh on 1 June, 303 kWh on 2 June
    result = PV.quantify(data, pv_params(calibration_due_date="2023-06-01", meter_accuracy_class="2"))
    late = finding(result, "LATE_CALIBRATION")
    assert (late.severity, late.count) == (Severity.FLAG, 6)
    # 303 kWh × 2 % × 0.55 = 3.333 kg deducted, shown rounded up; 606 kWh × 0.55 = 333.3 kg baseline, down.
    assert result.totals.deductions.late_calibration_kg == 4
    assert result.totals.baseline_kg == 333
    assert result.totals.net_reduction_kg == 329  # 333 − 4


def test_imports_and_green_certificates_are_deducted() -> None:
    data = daytime_pv(days=1).assign(import_kwh=1.0)
    result = PV.quantify(data, pv_params(green_certificate_kwh_by_year={"2023": "100"}))
    # baseline 303 kWh × 0.55 = 166.65 → 166 kg (down); imports 6 kWh × 0.55 = 3.3 → 4 kg (up);
    # certificates 100 kWh × 0.55 = 55 kg: net 166 − 4 − 55 = 107 kg (exactly 108.35 before rounding)
    assert result.totals.baseline_kg == 166
    assert result.totals.project_kg == 4
    assert result.totals.deductions.green_certificate_kg == 55
    assert result.totals.net_reduction_kg == 107


def test_vintages_split_at_31_december_local_time() -> None:
    data = pv_rows("M1", "2023-12-31T23:30", [0.0, 0.0, 0.0, 0.0], minutes=15)
    data["energy_kwh"] = [0.0, 0.0, 0.0, 0.0]
    result = PV.quantify(data, pv_params())
    assert [v.vintage_year for v in result.vintages] == [2023, 2024]
    assert result.vintages[0].period_end == "2024-01-01T00:00:00+08:00"
    assert result.vintages[1].period_start == "2024-01-01T00:00:00+08:00"
    # 2024 has no published factor yet: the latest year (2023) is used and says so.
    assert [f.selection for f in result.factors] == [
        "published for the vintage year",
        "latest published year",
    ]


def test_mixed_intervals_are_an_input_error() -> None:
    data = pv_rows("M1", "2023-06-01T09:00", [1.0, 2.0, 3.0], minutes=15)
    data = pd.concat([data, pv_rows("M1", "2023-06-01T09:40", [1.0])], ignore_index=True)
    with pytest.raises(
        InputDataError, match=r"column 'timestamp', row 4: interval start is not on the quarter-hour"
    ):
        PV.quantify(data, pv_params())
    hourly_run = pd.concat(
        [
            pv_rows("M1", "2023-06-01T08:00", [1.0, 2.0], minutes=15),
            pv_rows("M1", "2023-06-01T09:00", [3.0] * 6),
        ],
        ignore_index=True,
    )
    with pytest.raises(InputDataError, match=r"column 'timestamp', row 4: mixed intervals"):
        PV.quantify(hourly_run, pv_params())


def test_sparse_readings_years_apart_use_the_same_night_rule() -> None:
    data = pd.concat(
        [pv_rows("M1", "2019-06-01T12:00", [5.0, 5.0], minutes=15), pv_rows("M1", "2023-06-01T23:00", [5.0])],
        ignore_index=True,
    )
    # 140,000 quarter hours apart: the sun is computed per reading, not per interval slot.
    result = PV.quantify(data, pv_params(interval_minutes=15))
    assert finding(result, "GENERATION_AT_NIGHT").examples == ("M1 2023-06-01T23:00:00+08:00",)
    assert [(v.vintage_year, v.credited_energy_wh) for v in result.vintages] == [(2019, 10_000), (2023, 0)]


@pytest.mark.parametrize("interval_minutes", [None, 15])
def test_monthly_totals_are_refused_with_a_message_asking_for_interval_data(interval_minutes: int | None) -> None:
    months = pd.DataFrame({"meter_id": "M1", "energy_kwh": [800.0, 850.0, 1000.0],
                           "timestamp": ["2025-01-01T00:00:00+08:00", "2025-02-01T00:00:00+08:00",
                                         "2025-03-01T00:00:00+08:00"]})
    params = pv_params() if interval_minutes is None else pv_params(interval_minutes=interval_minutes)
    with pytest.raises(InputDataError, match=r"look like daily or monthly totals.*every 15 or 60 minutes"):
        PV.quantify(months, params)
