
import pandas as pd
import pytest

from methodologies.errors import InputDataError
from methodologies.quantification import Severity
from methodologies.wetland import METHODOLOGY as WETLAND
from tests.methodologies.methodology_builders import FIRST, SECOND, finding, plot, stratum, worked_example_rows


def test_worked_example_two_strata_split_over_two_vintages() -> None:
    result = WETLAND.quantify(pd.DataFrame(worked_example_rows()), {})
    totals = result.totals
    # Stock change 20 ha × 2.0 + 10 ha × 0.91 × 1 yr = 49.1 t C → × 44/12 = 180,033.3 kg CO2
    # CH4 (stratum B): 193.7 kg/ha/yr × 10 ha × 1 yr × 28 = 54,236 kg CO2e
    # Uncertainty: half-width 2.353 × √(20² × 0.10667 / 4) = 7.6849 t C > 10 % of 40 t C
    #   → deduct 3.6849 t C × 44/12 = 13,511.2 kg
    # Split 184/365 (2022) and 181/365 (2023), each rounded against the project (removals down,
    # CH4 and uncertainty up); 2022 verified 90,756 − 27,341 − 6,812 = 56,603: 90 % net, 10 % buffer.
    assert [v.vintage_year for v in result.vintages] == [2022, 2023]
    assert [v.removals_kg for v in result.vintages] == [90_756, 89_276]
    assert [v.project_kg for v in result.vintages] == [27_341, 26_896]
    assert [v.deductions.uncertainty_kg for v in result.vintages] == [6_812, 6_701]
    assert [v.net_reduction_kg for v in result.vintages] == [50_942, 50_111]
    assert [v.deductions.buffer_kg for v in result.vintages] == [5_661, 5_568]
    assert totals.net_reduction_kg == 101_053
    assert totals.deductions.buffer_kg == 11_229
    assert totals.credited_area_m2 == 300_000
    assert result.vintages[0].period_start == "2022-07-01" and result.vintages[1].period_end == "2023-06-30"
    assert finding(result, "UNCERTAINTY_ABOVE_10_PERCENT").severity is Severity.INFO
    assert "IPCC-2013-WETLANDS-T4.12-tidal_marsh" in {f.factor_id for f in result.factors}


def test_uncertainty_within_ten_percent_deducts_nothing() -> None:
    rows = [stratum("A", d, "mangrove", 20, 25) for d in (FIRST, SECOND)]
    for plot_id, before in (("A1", 150.0), ("A2", 160.0), ("A3", 170.0)):
        rows.append(plot("A", FIRST, plot_id, 0.0, before))
        rows.append(plot("A", SECOND, plot_id, 0.0, before + 2.0))
    result = WETLAND.quantify(pd.DataFrame(rows), {"buffer_share": "0"})
    # 20 ha × 2 t C × 44/12 = 146,666.7 kg; identical gains, zero variance
    assert result.totals.deductions.uncertainty_kg == 0
    assert result.totals.net_reduction_kg == 146_666
    assert result.totals.project_kg == 0  # 25 ppt: no CH4


def test_area_lost_loses_its_stock() -> None:
    first, second = "2022-01-01", "2023-01-01"
    rows = [stratum("A", first, "mangrove", 20, 25), stratum("A", second, "mangrove", 19, 25)]
    for plot_id in ("A1", "A2"):
        rows.append(plot("A", first, plot_id, 0.0, 100.0))
        rows.append(plot("A", second, plot_id, 0.0, 110.0))
    result = WETLAND.quantify(pd.DataFrame(rows), {"buffer_share": "0"})
    # 19 ha × 10 t C − 1 ha × 100 t C = 90 t C → 330,000 kg CO2
    assert result.totals.removals_kg == 330_000
    assert result.totals.credited_area_m2 == 190_000


def test_leakage_and_ar6_gwp() -> None:
    rows = [stratum("B", d, "tidal_marsh", 10, 5) for d in ("2022-01-01", "2023-01-01")]
    result = WETLAND.quantify(
        pd.DataFrame(rows), {"leakage_share": "0.05", "gwp_table": "AR6", "buffer_share": "0"}
    )
    # removals 9.1 t C × 44/12 = 33,366.7 kg (down); leakage 5 % = 1,668.3 (up); CH4 1,937 kg × 27 = 52,299
    assert result.totals.removals_kg == 33_366
    assert result.totals.leakage_kg == 1_669
    assert result.totals.project_kg == 52_299
    assert result.totals.net_reduction_kg == 0


def test_one_plot_falls_back_to_the_ipcc_default_and_is_flagged() -> None:
    rows = [stratum("S", d, "seagrass", 10, 30) for d in ("2022-01-01", "2023-01-01")]
    rows += [plot("S", "2022-01-01", "P1", 0.0, 40.0), plot("S", "2023-01-01", "P1", 0.0, 60.0)]
    result = WETLAND.quantify(pd.DataFrame(rows), {"buffer_share": "0"})
    assert finding(result, "TOO_FEW_PLOTS").examples == ("S",)
    assert result.totals.removals_kg == 15_766  # 10 ha × 0.43 t C × 44/12 = 15,766.7 kg


def test_no_default_for_freshwater_without_plots_is_an_input_error() -> None:
    rows = [stratum("F", d, "freshwater_marsh", 10, 0) for d in ("2022-01-01", "2023-01-01")]
    with pytest.raises(
        InputDataError, match=r"column 'wetland_type', row 1: stratum 'F' has fewer than 2 plots"
    ):
        WETLAND.quantify(pd.DataFrame(rows), {})


def test_needs_exactly_two_monitoring_dates() -> None:
    rows = [stratum("B", d, "tidal_marsh", 10, 5) for d in ("2021-01-01", "2022-01-01", "2023-01-01")]
    with pytest.raises(InputDataError, match="needs exactly two monitoring dates, found 3"):
        WETLAND.quantify(pd.DataFrame(rows), {})


def test_plot_in_unknown_stratum_names_the_row() -> None:
    rows = [stratum("B", d, "tidal_marsh", 10, 5) for d in ("2022-01-01", "2023-01-01")]
    rows.append(plot("X", "2022-01-01", "P1", 1.0, 1.0))
    with pytest.raises(InputDataError, match=r"column 'stratum_id', row 3: plot in stratum 'X'"):
        WETLAND.quantify(pd.DataFrame(rows), {})
