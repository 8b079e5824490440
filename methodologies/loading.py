"""Reading monitoring files (CSV, XLSX, Parquet) into a normalised frame.

Uploads come from project owners' exports, so every failure mode of the readers is turned
into an InputDataError here rather than leaking a pandas or pyarrow traceback.
"""

import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from methodologies.errors import InputDataError
from methodologies.schema import InputSchema

# 35 M rows of 15-minute Parquet for 1,000 meters is about 200 MB; 1 GiB leaves room for
# CSV's larger encoding while keeping a single upload from exhausting a worker's memory.
DEFAULT_MAX_FILE_BYTES = 1 << 30

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".parquet")


def load_table(
    path: str | Path,
    schema: InputSchema | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    name: str | None = None,
) -> pd.DataFrame:
    """Read one monitoring file; with a schema, also validate and normalise it.

    `name` is the file's name as its owner knows it, when `path` is stored under another (a
    content-addressed upload): its suffix picks the format and it is what errors mention.

    CSV is read as text (UTF-8, header on the first line) so that numbers and timestamps are
    validated by the schema with row numbers, not silently coerced by the reader. XLSX: the
    first sheet; timestamps must be ISO 8601 text with an offset, because Excel date cells
    carry no time zone. Parquet: timestamps must be a time-zone-aware type.
    """
    file_path = Path(path)
    shown = name or file_path.name
    if not file_path.is_file():
        raise InputDataError(f"{file_path}: no such file")
    size_bytes = file_path.stat().st_size
    if size_bytes > max_file_bytes:
        raise InputDataError(f"{shown}: file is {size_bytes} bytes, over the limit of {max_file_bytes} bytes")
    if size_bytes == 0:
        raise InputDataError(f"{shown}: file is empty")
    suffix = Path(shown).suffix.lower()
    if suffix == ".csv":
        raw = _read_csv(file_path, shown)
    elif suffix == ".xlsx":
        raw = _read_xlsx(file_path, shown)
    elif suffix == ".parquet":
        raw = _read_parquet(file_path, schema, shown)
    else:
        raise InputDataError(f"{shown}: unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)})")
    if len(raw.columns) == 0 or len(raw) == 0:
        raise InputDataError(f"{shown}: the file has no data rows")
    return raw if schema is None else schema.normalise(raw)


def _read_csv(path: Path, shown: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except pd.errors.EmptyDataError as error:
        raise InputDataError(f"{shown}: file is empty") from error
    except UnicodeDecodeError as error:
        raise InputDataError(f"{shown}: not UTF-8 text (byte {error.start})") from error
    except pd.errors.ParserError as error:
        raise InputDataError(f"{shown}: malformed CSV ({str(error).strip()})") from error


def _read_xlsx(path: Path, shown: str) -> pd.DataFrame:
    try:
        return pd.read_excel(path, engine="openpyxl", dtype=object)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InputDataError(f"{shown}: not a readable XLSX workbook ({error})") from error


def _read_parquet(path: Path, schema: InputSchema | None, shown: str) -> pd.DataFrame:
    try:
        file_columns = set(pq.read_schema(path).names)
        # Dictionary-encoded text keeps 35 M meter ids as small integer codes plus a short list.
        dictionary_columns = [
            name for name in (schema.text_columns if schema else []) if name in file_columns
        ]
        table = pq.read_table(path, read_dictionary=dictionary_columns)
    except (pa.ArrowException, OSError) as error:
        raise InputDataError(f"{shown}: not a readable Parquet file ({error})") from error
    # split_blocks + self_destruct: columns convert one at a time and Arrow buffers are freed
    # as they go, so the peak is about one copy of the table, not two.
    return table.to_pandas(split_blocks=True, self_destruct=True)
