"""Canonical form of an input table, and the SHA-256 fingerprint over it.

The fingerprint identifies *what was quantified*: the same rows in any file format or row
order, with the same parameters, give the same fingerprint; one changed reading gives a
different one. Specified byte for byte in docs/methodologies/README.md ("Input fingerprint").

Encodings are computed chunk by chunk from the frame's own buffers: on a 35 M-row table a
fresh full-length temporary costs more (page faults) than the arithmetic done with it.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import rfc8785

from methodologies.schema import ColumnSpec, InputSchema, quantised

FINGERPRINT_SCHEME = "cir-input-v1"
CHUNK_ROWS = 1 << 20
MISSING_INT64 = np.iinfo(np.int64).min
MISSING_CODE = np.uint32(0xFFFFFFFF)
_SECONDS_PER_DAY = 86_400


def chunk_bounds(total_rows: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, int]]:
    for start in range(0, total_rows, chunk_rows):
        yield start, min(total_rows, start + chunk_rows)


@dataclass(frozen=True)
class EncodedColumn:
    """One column's integer encoding, computed on demand for any row range."""

    spec: ColumnSpec
    encoding: str
    source: np.ndarray  # the frame's buffer: category codes, int64 datetimes or float64
    categories: tuple[str, ...] = ()
    # Category code → rank in `categories`, or None when the frame's categories are sorted.
    remap: np.ndarray | None = field(default=None, repr=False)

    def chunk(self, start: int, stop: int) -> np.ndarray:
        raw = self.source[start:stop]
        if self.spec.kind == "text":
            codes = raw.astype(np.int64)
            encoded = (self.remap[codes] if self.remap is not None else codes).astype(np.uint32)
            encoded[codes < 0] = MISSING_CODE
            return encoded
        if self.spec.kind == "timestamp":
            return raw  # already Unix microseconds; NaT is int64 min
        if self.spec.kind == "date":
            return np.where(raw == MISSING_INT64, MISSING_INT64, raw // _SECONDS_PER_DAY)
        encoded = quantised(raw, self.spec.scale, self.spec.name, first_row=start + 1)
        encoded[np.isnan(raw)] = MISSING_INT64
        return encoded

    @cached_property
    def values(self) -> np.ndarray:
        """The whole column at once, for the small tables of session and plot methodologies."""
        return self.chunk(0, len(self.source))


@dataclass(frozen=True)
class CanonicalInput:
    """A normalised frame in canonical row order, with its integer encodings."""

    frame: pd.DataFrame
    columns: dict[str, EncodedColumn]
    # 1-based row numbers as the caller's table held them (None: unchanged order), for
    # error messages after sorting.
    source_rows: np.ndarray | None

    def source_row(self, position: int) -> int:
        return position + 1 if self.source_rows is None else int(self.source_rows[position])

    def __len__(self) -> int:
        return len(self.frame)


def _column(series: pd.Series, spec: ColumnSpec) -> EncodedColumn:
    if spec.kind == "text":
        frame_categories = [str(value) for value in series.cat.categories]
        categories = sorted(frame_categories)
        codes = series.cat.codes.to_numpy()
        if categories == frame_categories:
            return EncodedColumn(spec, "utf8-dictionary-uint32le", codes, tuple(categories))
        rank = {value: index for index, value in enumerate(categories)}
        remap = np.array([rank[value] for value in frame_categories], dtype=np.int64)
        return EncodedColumn(spec, "utf8-dictionary-uint32le", codes, tuple(categories), remap)
    if spec.kind == "timestamp":
        return EncodedColumn(spec, "unix-microseconds-int64le", series.array.asi8)
    if spec.kind == "date":
        # Normalised dates are datetime64[s], so the raw integers are Unix seconds.
        return EncodedColumn(spec, "unix-days-int64le", series.array.asi8)
    return EncodedColumn(spec, f"decimal-scale-{spec.scale}-int64le", series.to_numpy(dtype=np.float64))


def _chunk_is_sorted(columns: list[np.ndarray]) -> bool:
    equal_prefix = np.ones(len(columns[0]) - 1, dtype=bool)
    for values in columns:
        wide = values.astype(np.int64, copy=False)
        if (equal_prefix & (wide[1:] < wide[:-1])).any():
            return False
        equal_prefix &= wide[1:] == wide[:-1]
    return True


def _is_sorted(columns: list[EncodedColumn], total_rows: int) -> bool:
    # Chunks overlap by one row so that every adjacent pair is compared once.
    for start, stop in chunk_bounds(total_rows):
        begin = max(0, start - 1)
        if not _chunk_is_sorted([column.chunk(begin, stop) for column in columns]):
            return False
    return True


def canonicalise(frame: pd.DataFrame, schema: InputSchema) -> CanonicalInput:
    """Sort rows lexicographically by the encoded columns, in schema column order."""
    specs = [spec for spec in schema.columns if spec.name in frame.columns]
    columns = {spec.name: _column(frame[spec.name], spec) for spec in specs}
    if len(frame) < 2 or _is_sorted(list(columns.values()), len(frame)):
        return CanonicalInput(frame, columns, None)
    order = np.lexsort([column.values for column in reversed(columns.values())])
    ordered = frame.take(order).reset_index(drop=True)
    return CanonicalInput(
        ordered, {spec.name: _column(ordered[spec.name], spec) for spec in specs}, order + 1
    )


def input_fingerprint(
    canonical: CanonicalInput,
    *,
    methodology_id: str,
    methodology_version: str,
    params_json: dict[str, Any],
) -> str:
    """`sha256:` + hex digest of header ‖ column blocks (see the docs for the exact layout)."""
    header: dict[str, Any] = {
        "scheme": FINGERPRINT_SCHEME,
        "methodology_id": methodology_id,
        "methodology_version": methodology_version,
        "params": params_json,
        "columns": [
            {"name": name, "encoding": column.encoding} for name, column in canonical.columns.items()
        ],
        "row_count": len(canonical.frame),
    }
    digest = hashlib.sha256(rfc8785.dumps(header) + b"\n")
    for column in canonical.columns.values():
        dtype = "<u4" if column.spec.kind == "text" else "<i8"
        if column.spec.kind == "text":
            digest.update(rfc8785.dumps(list(column.categories)) + b"\n")
        for start, stop in chunk_bounds(len(canonical.frame)):
            digest.update(np.ascontiguousarray(column.chunk(start, stop), dtype=dtype).data)
    return "sha256:" + digest.hexdigest()
