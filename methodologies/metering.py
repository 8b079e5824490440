"""Interval meter series shared by the metered methodologies (PV, lighting).

Rows are in canonical order (meter, then interval start) and are processed in chunks of
whole meters of about a million rows: every rule is a few numpy passes over a chunk that
stays in cache, never a Python loop per row, and never a fresh 35 M-element temporary
(on this kind of machine, page-faulting one costs more than the arithmetic).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from methodologies.canonical import CHUNK_ROWS, CanonicalInput, EncodedColumn
from methodologies.errors import InputDataError, ParameterError
from methodologies.quantification import FindingCollector, Severity

SUPPORTED_INTERVALS_S = (900, 3600)
# Alignment grid: every real UTC offset is a whole number of quarter hours.
_DAY_S = 86_400
_QUARTER_HOUR_S = 900
# An inferred 15-minute series holding this many consecutive hourly steps is a meter that
# switched resolution (or an hourly meter mixed in), not a 15-minute meter with gaps.
_HOURLY_RUN_STEPS = 4
MISSING = np.iinfo(np.int64).min
_EXAMPLES = 5


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(f"unknown time zone '{name}' (use an IANA name such as Asia/Shanghai)") from None


def local_iso(unix_s: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(unix_s, tz).isoformat()


def new_year_boundaries(first_s: int, last_s: int, tz: ZoneInfo) -> tuple[int, np.ndarray]:
    """(first year, UTC seconds of each later local 1 January 00:00 up to `last_s`)."""
    first = datetime.fromtimestamp(first_s, tz).year
    last = datetime.fromtimestamp(last_s, tz).year
    boundaries = [int(datetime(year, 1, 1, tzinfo=tz).timestamp()) for year in range(first + 1, last + 1)]
    return first, np.array(boundaries, dtype=np.int64)


def vintage_years(unix_s: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Calendar year, in the project's local time, of each instant (vintages end 31 December)."""
    first, boundaries = new_year_boundaries(int(unix_s.min()), int(unix_s.max()), tz)
    return (first + np.searchsorted(boundaries, unix_s, side="right")).astype(np.int32)


@dataclass(frozen=True)
class IntervalChunk:
    """Whole meters' readings: rows [row_start, row_stop) of the canonical table."""

    row_start: int
    row_stop: int
    meter_codes: np.ndarray  # int64, non-decreasing
    start_s: np.ndarray  # int64 UTC seconds of each interval start
    same_meter_as_previous: np.ndarray  # bool, length n − 1
    step_s: np.ndarray  # int64, length n − 1 (meaningful where same_meter_as_previous)
    vintage_year: np.ndarray  # int32
    series: "IntervalSeries"

    @property
    def years(self) -> list[int]:
        """Vintage years present (a min/max, not np.unique: no sort of a million rows)."""
        return [
            year
            for year in range(int(self.vintage_year.min()), int(self.vintage_year.max()) + 1)
            if year == self.vintage_year[0] or (self.vintage_year == year).any()
        ]

    def values(self, column: str) -> np.ndarray:
        """A numeric column of this chunk as exact integers (MISSING where empty)."""
        return self.series.canonical.columns[column].chunk(self.row_start, self.row_stop)

    @property
    def duplicate(self) -> np.ndarray:
        """Both rows of every repeated (meter, interval start)."""
        repeat = self.same_meter_as_previous & (self.step_s == 0)
        flags = np.zeros(len(self.start_s), dtype=bool)
        flags[1:] |= repeat
        flags[:-1] |= repeat
        return flags

    def reject_duplicates(self, findings: FindingCollector, device: str) -> None:
        """Two readings for one device and interval: the report cannot say which is true."""
        duplicate = self.duplicate
        findings.add(
            "DUPLICATE_TIMESTAMP",
            Severity.REJECT,
            int(duplicate.sum()),
            f"several readings for one {device} and interval: the report cannot say which is true",
            self.describe_rows(duplicate),
        )

    def describe_row(self, position: int) -> str:
        meter = self.series.meter_ids[int(self.meter_codes[position])]
        return f"{meter} {local_iso(int(self.start_s[position]), self.series.tz)}"

    def describe_rows(self, mask: np.ndarray) -> list[str]:
        return [self.describe_row(int(position)) for position in np.flatnonzero(mask)[:_EXAMPLES]]

    def missing_intervals(self, reading_missing: np.ndarray) -> tuple[int, list[str]]:
        """Intervals between a meter's first and last reading that have no usable reading."""
        interval_s, tz = self.series.interval_s, self.series.tz
        gap_steps = self.same_meter_as_previous & (self.step_s > interval_s)
        skipped = int(((self.step_s[gap_steps] // interval_s) - 1).sum())
        examples = [
            f"{self.series.meter_ids[int(self.meter_codes[p + 1])]} "
            f"{local_iso(int(self.start_s[p]) + interval_s, tz)} – {local_iso(int(self.start_s[p + 1]), tz)}"
            for p in np.flatnonzero(gap_steps)[:_EXAMPLES]
        ]
        examples += [f"{row} (empty reading)" for row in self.describe_rows(reading_missing)]
        return skipped + int(reading_missing.sum()), examples

    def identical_runs(self, energy_wh: np.ndarray, min_duration_s: int) -> np.ndarray:
        """Rows in runs of identical non-zero readings at consecutive intervals lasting
        longer than `min_duration_s`."""
        interval_s = self.series.interval_s
        equal_step = (
            self.same_meter_as_previous
            & (self.step_s == interval_s)
            & (energy_wh[1:] == energy_wh[:-1])
            & (energy_wh[1:] != 0)
            & (energy_wh[1:] != MISSING)
        )
        edges = np.diff(equal_step.astype(np.int8), prepend=0, append=0)
        run_starts = np.flatnonzero(edges == 1)
        run_ends = np.flatnonzero(edges == -1)  # index of the last row in the run
        long_runs = (run_ends - run_starts + 1) * interval_s > min_duration_s
        in_run = np.zeros(len(energy_wh) + 1, dtype=np.int32)
        np.add.at(in_run, run_starts[long_runs], 1)
        np.add.at(in_run, run_ends[long_runs] + 1, -1)
        return np.cumsum(in_run[:-1]) > 0


@dataclass(frozen=True)
class IntervalSeries:
    canonical: CanonicalInput
    meters: EncodedColumn
    timestamps: EncodedColumn
    meter_ids: tuple[str, ...]
    interval_s: int
    tz: ZoneInfo
    first_start_s: int
    last_start_s: int
    chunk_ranges: tuple[tuple[int, int], ...]
    first_year: int
    new_years_s: np.ndarray

    def chunks(self) -> Iterator[IntervalChunk]:
        for row_start, row_stop in self.chunk_ranges:
            meter_codes, start_s, same_meter, step_s = _chunk_arrays(
                self.meters, self.timestamps, row_start, row_stop
            )
            vintage = self.first_year + np.searchsorted(self.new_years_s, start_s, side="right")
            yield IntervalChunk(
                row_start, row_stop, meter_codes, start_s, same_meter, step_s, vintage.astype(np.int32), self
            )


def _chunk_arrays(
    meters: EncodedColumn, timestamps: EncodedColumn, row_start: int, row_stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    meter_codes = meters.chunk(row_start, row_stop).astype(np.int64)
    start_s = timestamps.chunk(row_start, row_stop) // 1_000_000
    return meter_codes, start_s, meter_codes[1:] == meter_codes[:-1], np.diff(start_s)


def _meter_aligned_ranges(meters: EncodedColumn, total_rows: int) -> tuple[tuple[int, int], ...]:
    """Row ranges of about CHUNK_ROWS that never split a meter (so steps stay within a chunk)."""
    codes = meters.source if meters.remap is None else meters.values
    meter_starts = np.searchsorted(codes, np.arange(len(meters.categories)), side="left").tolist()
    ranges, start = [], 0
    for boundary in [*meter_starts[1:], total_rows]:
        if boundary - start >= CHUNK_ROWS or boundary == total_rows:
            if boundary > start:
                ranges.append((start, boundary))
            start = boundary
    return tuple(ranges)


def prepare_intervals(
    canonical: CanonicalInput,
    *,
    meter_column: str,
    timestamp_column: str,
    timezone: str,
    interval_minutes: int | None,
) -> IntervalSeries:
    """Check the interval structure and describe the series.

    The interval is the stated `interval_minutes`, else the smallest step between
    consecutive readings of one meter; it must be 15 or 60 minutes. Every step must be a
    whole number of intervals (larger steps are gaps), and timestamps must sit on the
    quarter-hour grid. Inferred 15-minute data with a run of hourly steps is mixed.
    """
    tz = zone(timezone)
    meters, timestamps = canonical.columns[meter_column], canonical.columns[timestamp_column]
    ranges = _meter_aligned_ranges(meters, len(canonical))
    smallest_step_s: int | None = None
    first_s, last_s = None, None
    for row_start, row_stop in ranges:
        _, start_s, same_meter, step_s = _chunk_arrays(meters, timestamps, row_start, row_stop)
        off_grid = (start_s % _QUARTER_HOUR_S) != 0
        if off_grid.any():
            raise InputDataError(
                "interval start is not on the quarter-hour grid (interval data start at :00, :15, :30, :45)",
                column=timestamp_column,
                row=canonical.source_row(row_start + int(np.argmax(off_grid))),
            )
        positive = step_s[same_meter & (step_s > 0)]
        if len(positive):
            chunk_smallest = int(positive.min())
            smallest_step_s = (
                chunk_smallest if smallest_step_s is None else min(smallest_step_s, chunk_smallest)
            )
        chunk_first, chunk_last = int(start_s.min()), int(start_s.max())
        first_s = chunk_first if first_s is None else min(first_s, chunk_first)
        last_s = chunk_last if last_s is None else max(last_s, chunk_last)
    if smallest_step_s is not None and smallest_step_s >= _DAY_S:
        # Totals, not a load profile: crediting them as 15-minute readings would find nothing but gaps.
        raise InputDataError(
            f"a meter's readings are at least {smallest_step_s // _DAY_S} day(s) apart: these look like daily or "
            "monthly totals, but this methodology needs interval readings every 15 or 60 minutes (the meter's "
            "load profile export)",
            column=timestamp_column,
        )
    if interval_minutes is not None:
        interval_s = interval_minutes * 60
    elif smallest_step_s is None:
        raise InputDataError(
            "cannot infer the interval: no meter has two readings; set interval_minutes",
            column=timestamp_column,
        )
    else:
        interval_s = smallest_step_s
    if interval_s not in SUPPORTED_INTERVALS_S:
        raise InputDataError(
            f"interval of {interval_s // 60} minutes; expected 15 or 60", column=timestamp_column
        )
    check_hourly_runs = interval_minutes is None and interval_s == _QUARTER_HOUR_S
    for row_start, row_stop in ranges:
        _, _, same_meter, step_s = _chunk_arrays(meters, timestamps, row_start, row_stop)
        irregular = same_meter & (step_s % interval_s != 0)
        if check_hourly_runs and len(step_s) >= _HOURLY_RUN_STEPS:
            hourly = (same_meter & (step_s == 3600)).astype(np.int32)
            run = (
                np.convolve(hourly, np.ones(_HOURLY_RUN_STEPS, dtype=np.int32), "valid") == _HOURLY_RUN_STEPS
            )
            irregular[: len(run)] |= run
        if irregular.any():
            position = int(np.argmax(irregular)) + 1
            raise InputDataError(
                f"mixed intervals: a step of {int(step_s[position - 1]) // 60} minutes in data with a "
                f"{interval_s // 60}-minute interval",
                column=timestamp_column,
                row=canonical.source_row(row_start + position),
            )
    assert first_s is not None and last_s is not None  # a normalised table has rows
    first_year, new_years_s = new_year_boundaries(first_s, last_s, tz)
    return IntervalSeries(
        canonical=canonical,
        meters=meters,
        timestamps=timestamps,
        meter_ids=meters.categories,
        interval_s=interval_s,
        tz=tz,
        first_start_s=first_s,
        last_start_s=last_s,
        chunk_ranges=ranges,
        first_year=first_year,
        new_years_s=new_years_s,
    )


@dataclass
class VintagePeriods:
    """First and last interval start seen in each vintage, across chunks."""

    bounds: dict[int, tuple[int, int]]

    def update(self, chunk: IntervalChunk) -> None:
        for year in chunk.years:
            starts = chunk.start_s[chunk.vintage_year == year]
            low, high = int(starts.min()), int(starts.max())
            old = self.bounds.get(year, (low, high))
            self.bounds[year] = (min(old[0], low), max(old[1], high))

    def period(self, year: int, series: IntervalSeries) -> tuple[str, str]:
        low, high = self.bounds[year]
        return local_iso(low, series.tz), local_iso(high + series.interval_s, series.tz)
