import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.serials import ALPHABET, check_character, parse_serial, serial_number, serial_prefix

PREFIX = serial_prefix("CN-JS", "CIR-PV-DG", "1.0", 42, 2025, 3)


def test_serial_round_trips() -> None:
    serial = serial_number(PREFIX, 1, 462_000)
    assert serial.startswith("CN-JS:CIR-PV-DG:1.0:P000042:2025:I003:000000001-000462000:")
    parsed = parse_serial(serial)
    assert (parsed.prefix, parsed.first_unit, parsed.last_unit) == (PREFIX, 1, 462_000)


@given(st.integers(0, 60), st.sampled_from(ALPHABET))
def test_any_single_character_substitution_is_caught(position: int, replacement: str) -> None:
    serial = serial_number(PREFIX, 1001, 2000)
    body = serial.rpartition(":")[0]
    alnum = [i for i, c in enumerate(body) if c.isalnum()]
    i = alnum[position % len(alnum)]
    if body[i].upper() == replacement:
        return
    changed = body[:i] + replacement + body[i + 1 :]
    assert check_character(changed) != check_character(body)


def test_adjacent_transpositions_are_caught() -> None:
    body = serial_number(PREFIX, 123_456, 987_654).rpartition(":")[0]
    alnum = "".join(c for c in body if c.isalnum())
    for i in range(len(alnum) - 1):
        if alnum[i] != alnum[i + 1]:
            swapped = alnum[:i] + alnum[i + 1] + alnum[i] + alnum[i + 2 :]
            assert check_character(swapped) != check_character(alnum), i


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "CN-JS:CIR-PV-DG:1.0:P000042:2025:I003:000000001-000462000",
        "CN-JS:CIR-PV-DG:1.0:P000042:2025:I003:000000009-000000001:X",
    ],
)
def test_malformed_serials_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_serial(bad)


def test_mistyped_serial_is_refused() -> None:
    serial = serial_number(PREFIX, 1, 500)
    mistyped = serial.replace("000000500", "000000600")
    with pytest.raises(ValueError, match="check character"):
        parse_serial(mistyped)


def test_fields_with_separators_are_refused() -> None:
    with pytest.raises(ValueError):
        serial_prefix("CN-JS", "CIR:PV", "1.0", 1, 2025, 1)


def test_the_documented_example_serials_are_valid() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "ledger.md").read_text()
    examples = re.findall(r"CN-JS:CIR-[A-Z-]+:[0-9.]+:P\d+:\d{4}:I\d+:\d+-\d+:[0-9A-Z*]", docs)
    assert len(examples) >= 2
    for serial in examples:
        parse_serial(serial)
