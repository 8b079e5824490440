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
