from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from methodologies.errors import InputDataError
from methodologies.loading import load_table
from methodologies.pv_dg import METHODOLOGY as PV
from tests.methodologies.methodology_builders import daytime_pv, pv_params

SCHEMA = PV.input_schema


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CSV = (
    "meter_id,timestamp,energy_kwh\n"
    "M1,2023-06-01T10:00:00+08:00,10.5\n"
    "M1,2023-06-01T11:00:00+08:00,12\n"
    "M1,2023-06-01T12:00:00+08:00,11.25\n"
)


def test_csv_xlsx_and_parquet_load_to_the_same_quantification(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "data.csv", GOOD_CSV)
    raw = pd.read_csv(csv_path, dtype=str)
    raw.to_excel(tmp_path / "data.xlsx", index=False)
    parquet = raw.assign(
        timestamp=pd.to_datetime(raw["timestamp"], utc=True).dt.tz_convert("Asia/Shanghai"),
        energy_kwh=raw["energy_kwh"].astype(float),
    )
    parquet.to_parquet(tmp_path / "data.parquet")
    outputs = {
        suffix: PV.quantify(load_table(tmp_path / f"data.{suffix}", SCHEMA), pv_params()).to_json()
        for suffix in ("csv", "xlsx", "parquet")
    }
    assert outputs["csv"] == outputs["xlsx"] == outputs["parquet"]
    assert PV.quantify(load_table(csv_path, SCHEMA), pv_params()).totals.credited_energy_wh == 33_750


def test_wrong_column_name_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", GOOD_CSV.replace("energy_kwh", "energy_kWh"))
    with pytest.raises(InputDataError, match=r"column 'energy_kWh': unexpected column \(expected: meter_id"):
        load_table(path, SCHEMA)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "meter_id,timestamp\nM1,2023-06-01T10:00:00+08:00\n")
    with pytest.raises(InputDataError, match=r"^column 'energy_kwh': missing required column$"):
        load_table(path, SCHEMA)


def test_text_in_a_numeric_column_names_column_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", GOOD_CSV.replace("12\n", "twelve\n"))
    with pytest.raises(InputDataError, match=r"^column 'energy_kwh', row 2: 'twelve' is not a number$"):
        load_table(path, SCHEMA)


def test_naive_timestamp_names_column_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", GOOD_CSV.replace("2023-06-01T12:00:00+08:00", "2023-06-01T12:00:00"))
    with pytest.raises(
        InputDataError, match=r"^column 'timestamp', row 3: '2023-06-01T12:00:00' has no UTC offset"
    ):
        load_table(path, SCHEMA)


def test_unparseable_timestamp_names_column_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", GOOD_CSV.replace("2023-06-01T11:00:00+08:00", "yesterday+08:00"))
    with pytest.raises(
        InputDataError, match=r"column 'timestamp', row 2: 'yesterday\+08:00' is not an ISO 8601"
    ):
        load_table(path, SCHEMA)


def test_naive_parquet_timestamps_are_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"meter_id": ["M1"], "timestamp": [datetime(2023, 6, 1, 10)], "energy_kwh": [1.0]})
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(InputDataError, match=r"^column 'timestamp', row 1: timestamps have no UTC offset"):
        load_table(tmp_path / "d.parquet", SCHEMA)


def test_excel_date_cells_are_refused_as_naive(tmp_path: Path) -> None:
    frame = pd.DataFrame({"meter_id": ["M1"], "timestamp": [datetime(2023, 6, 1, 10)], "energy_kwh": [1.0]})
    frame.to_excel(tmp_path / "d.xlsx", index=False)
    with pytest.raises(InputDataError, match=r"^column 'timestamp', row 1: .* has no UTC offset"):
        load_table(tmp_path / "d.xlsx", SCHEMA)


def test_mixed_intervals_in_a_file_name_the_row(tmp_path: Path) -> None:
    rows = [
        "meter_id,timestamp,energy_kwh",
        "M1,2023-06-01T10:00:00+08:00,1",
        "M1,2023-06-01T10:15:00+08:00,1",
    ]
    rows += [f"M1,2023-06-01T{hour}:15:00+08:00,1" for hour in range(11, 16)]
    path = write_csv(tmp_path / "d.csv", "\n".join(rows) + "\n")
    with pytest.raises(
        InputDataError, match=r"column 'timestamp', row 3: mixed intervals: a step of 60 minutes"
    ):
        PV.quantify(load_table(path, SCHEMA), pv_params())


def test_empty_file_and_header_only_file(tmp_path: Path) -> None:
    empty = write_csv(tmp_path / "empty.csv", "")
    with pytest.raises(InputDataError, match=r"^empty.csv: file is empty$"):
        load_table(empty, SCHEMA)
    header_only = write_csv(tmp_path / "header.csv", "meter_id,timestamp,energy_kwh\n")
    with pytest.raises(InputDataError, match=r"^header.csv: the file has no data rows$"):
        load_table(header_only, SCHEMA)
    pq.write_table(pa.table({"meter_id": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    with pytest.raises(InputDataError, match="no data rows"):
        load_table(tmp_path / "empty.parquet", SCHEMA)


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", GOOD_CSV)
    size = path.stat().st_size
    with pytest.raises(InputDataError, match=rf"^d.csv: file is {size} bytes, over the limit of 100 bytes$"):
        load_table(path, SCHEMA, max_file_bytes=100)
    assert len(load_table(path, SCHEMA, max_file_bytes=size)) == 3


def test_unsupported_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"d.txt: unsupported file type"):
        load_table(write_csv(tmp_path / "d.txt", GOOD_CSV), SCHEMA)
    with pytest.raises(InputDataError, match=r"bad.xlsx: not a readable XLSX workbook"):
        load_table(write_csv(tmp_path / "bad.xlsx", "not a zip"), SCHEMA)
    with pytest.raises(InputDataError, match=r"bad.parquet: not a readable Parquet file"):
        load_table(write_csv(tmp_path / "bad.parquet", "not parquet"), SCHEMA)
    (tmp_path / "latin1.csv").write_bytes("meter_id,timestamp,energy_kwh\nZ\xe4hler,x,1\n".encode("latin-1"))
    with pytest.raises(InputDataError, match=r"latin1.csv: not UTF-8 text"):
        load_table(tmp_path / "latin1.csv", SCHEMA)


def test_empty_required_cell_names_column_and_row() -> None:
    data = daytime_pv(days=1)
    data.loc[4, "meter_id"] = ""
    with pytest.raises(InputDataError, match=r"^column 'meter_id', row 5: empty value$"):
        PV.quantify(data, pv_params())
