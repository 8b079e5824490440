import hashlib
from typing import Any

import numpy as np
import orjson
import pandas as pd
import rfc8785

from methodologies.pv_dg import METHODOLOGY as PV
from tests.methodologies.methodology_builders import daytime_pv, pv_params


def no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(no_floats(v) for v in value)
    return True


def test_same_input_gives_byte_identical_json() -> None:
    data = daytime_pv(days=3)
    first = PV.quantify(data, pv_params()).to_json()
    second = PV.quantify(data.copy(), pv_params()).to_json()
    assert first == second
    assert first == rfc8785.dumps(orjson.loads(first))  # already canonical


def test_row_order_does_not_change_the_result_or_fingerprint() -> None:
    data = daytime_pv(days=3)
    shuffled = data.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert PV.quantify(shuffled, pv_params()).to_json() == PV.quantify(data, pv_params()).to_json()


def test_json_has_only_integers_and_strings() -> None:
    data = daytime_pv(days=2).assign(import_kwh=0.25)
    decoded = orjson.loads(PV.quantify(data, pv_params(calibration_due_date="2023-06-01")).to_json())
    assert no_floats(decoded)
    assert decoded["factors"][0]["value"] == "0.5500"


def test_fingerprint_follows_the_documented_layout() -> None:
    data = pd.DataFrame(
        {
            "meter_id": ["M2", "M1"],
            "timestamp": ["2023-06-01T10:00:00+08:00", "2023-06-01T11:00:00+08:00"],
            "energy_kwh": ["1.5", None],
        }
    )
    params = pv_params(interval_minutes=60)
    result = PV.quantify(data, params)
    parsed_params = PV.parse_params(params).model_dump(mode="json")
    header: dict[str, Any] = {
        "scheme": "cir-input-v1",
        "methodology_id": "CIR-PV-DG",
        "methodology_version": "1.0",
        "params": parsed_params,
        "columns": [
            {"name": "meter_id", "encoding": "utf8-dictionary-uint32le"},
            {"name": "timestamp", "encoding": "unix-microseconds-int64le"},
            {"name": "energy_kwh", "encoding": "decimal-scale-3-int64le"},
        ],
        "row_count": 2,
    }
    # Canonical order: M1 first (its code is 0), then M2. The empty reading is int64 min.
    expected = hashlib.sha256(rfc8785.dumps(header) + b"\n")
    expected.update(rfc8785.dumps(["M1", "M2"]) + b"\n")
    expected.update(np.array([0, 1], dtype="<u4").tobytes())
    expected.update(np.array([1_685_588_400_000_000, 1_685_584_800_000_000], dtype="<i8").tobytes())
    expected.update(np.array([np.iinfo(np.int64).min, 1500], dtype="<i8").tobytes())
    assert result.input_fingerprint == "sha256:" + expected.hexdigest()


def test_one_watt_hour_or_one_parameter_changes_the_fingerprint() -> None:
    data = daytime_pv(days=1)
    base = PV.quantify(data, pv_params()).input_fingerprint
    changed = data.copy()
    changed.loc[0, "energy_kwh"] = 50.001
    assert PV.quantify(changed, pv_params()).input_fingerprint != base
    assert PV.quantify(data, pv_params(capacity_kwp="101")).input_fingerprint != base
    # 50 and 50.0004 kWh are the same register value at 1 Wh resolution.
    same = data.copy()
    same.loc[0, "energy_kwh"] = 50.0004
    assert PV.quantify(same, pv_params()).input_fingerprint == base
