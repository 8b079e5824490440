"""Properties that must hold for any data: missing data never earns more, and a data set cut
in two never earns more in its parts than whole (so resubmitting pieces cannot gain)."""

from datetime import timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from methodologies.ev_charging import METHODOLOGY as EV
from methodologies.pv_dg import METHODOLOGY as PV
from methodologies.quantification import Quantification
from tests.methodologies.methodology_builders import local, pv_params

# Huge capacity keeps specific yield far from its thresholds: these properties are about
# arithmetic and exclusions, not the yield rejection (tested on its own).
PARAMS = pv_params(capacity_kwp="100000", interval_minutes=60, calibration_due_date="2023-06-02")
DAYTIME_HOURS = [f"{hour:02d}:00" for hour in range(8, 16)]

readings = st.lists(
    st.one_of(st.none(), st.integers(min_value=-50, max_value=1200).map(lambda wh: wh / 10)),
    min_size=2,
    max_size=24,
)


def pv_frame(values: list[float | None], meter_id: str = "M1") -> pd.DataFrame:
    """Hourly readings 08:00–15:00 local, day after day, with one night reading in between."""
    stamps: list[str] = []
    day = local("2023-06-01T00:00")
    while len(stamps) < len(values):
        stamps += [f"{day.date().isoformat()}T{hour}:00+08:00" for hour in DAYTIME_HOURS]
        stamps.append(f"{day.date().isoformat()}T23:00:00+08:00")
        day += timedelta(days=1)
    return pd.DataFrame({"meter_id": meter_id, "timestamp": stamps[: len(values)], "energy_kwh": values})


def net_kg(frame: pd.DataFrame) -> int:
    result = PV.quantify(frame, PARAMS)
    assert not result.rejected
    return result.totals.net_reduction_kg


@settings(max_examples=50, deadline=None)
@given(values=readings, data=st.data())
def test_adding_a_gap_never_raises_the_result(values: list[float | None], data: st.DataObject) -> None:
    frame = pv_frame(values)
    removed = data.draw(st.lists(st.integers(0, len(values) - 1), unique=True, max_size=len(values) - 1))
    blanked = data.draw(st.lists(st.integers(0, len(values) - 1), unique=True))
    gapped = frame.drop(index=removed).reset_index(drop=True)
    with_empty = frame.copy()
    with_empty.loc[blanked, "energy_kwh"] = None
    whole = net_kg(frame)
    assert net_kg(gapped) <= whole
    assert net_kg(with_empty) <= whole


@settings(max_examples=50, deadline=None)
@given(values=readings, second_meter=readings, data=st.data())
def test_parts_never_exceed_the_whole(
    values: list[float | None], second_meter: list[float | None], data: st.DataObject
) -> None:
    frame = pd.concat([pv_frame(values), pv_frame(second_meter, "M2")], ignore_index=True)
    frame = frame.sort_values(["timestamp", "meter_id"], kind="stable").reset_index(drop=True)
    cut = data.draw(st.integers(1, len(frame) - 1))
    parts = net_kg(frame.iloc[:cut]) + net_kg(frame.iloc[cut:])
    assert parts <= net_kg(frame)


sessions = st.lists(
    st.tuples(st.integers(1, 600), st.integers(1, 600), st.integers(0, 80_000)),  # gap, minutes, Wh
    min_size=2,
    max_size=12,
)


@settings(max_examples=50, deadline=None)
@given(spec=sessions, data=st.data())
def test_ev_parts_never_exceed_the_whole(spec: list[tuple[int, int, int]], data: st.DataObject) -> None:
    rows, clock = [], local("2023-12-30T00:00")
    for number, (gap_min, minutes, energy_wh) in enumerate(spec):
        start = clock + timedelta(minutes=gap_min)
        clock = start + timedelta(minutes=minutes)
        rows.append(("C1", f"s{number:03d}", start.isoformat(), clock.isoformat(), energy_wh / 1000))
    frame = pd.DataFrame(rows, columns=["charger_id", "session_id", "start", "end", "energy_kwh"])
    params = {"region": "CN-JS", "charger_rated_kw": "7", "fuel_economy_l_per_100km": "8"}
    cut = data.draw(st.integers(1, len(frame) - 1))
    # Compared before each report's floor at zero: a report whose project emissions exceed its
    # baseline credits nothing rather than a negative amount, which no split can change. What
    # rounding does is never more in the parts than in the whole.
    whole = shown_total_kg(EV.quantify(frame, params))
    parts = shown_total_kg(EV.quantify(frame.iloc[:cut], params))
    parts += shown_total_kg(EV.quantify(frame.iloc[cut:], params))
    assert parts <= whole


def shown_total_kg(result: Quantification) -> int:
    """Baseline and removals less every subtracted figure, as the report shows them."""
    t = result.totals
    d = t.deductions
    return (t.baseline_kg + t.removals_kg - t.project_kg - t.leakage_kg - d.uncertainty_kg - d.late_calibration_kg
            - d.green_certificate_kg)
