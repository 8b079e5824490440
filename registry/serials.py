"""Human-readable, globally unique serial numbers for credit ranges.

    CN-JS:CIR-PV-DG:1.0:P000042:2025:I003:000000001-000462000:S
    region:methodology:version:project:vintage:issuance:first-last:check

Units are numbered 1…quantity_kg within an issuance, so the prefix (everything before the range)
makes a serial unique across the registry. The check character is ISO/IEC 7064 MOD 37-2 over
the letters and digits of everything before it (a pure system: weights are powers of 2 modulo
the prime 37), so it catches every single mistyped character and every swap of two adjacent
characters. Its value 36 is written `*`. (The hybrid MOD 37,36 misses some adjacent swaps.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHECK_ALPHABET = ALPHABET + "*"
_FIELD = re.compile(r"^[A-Za-z0-9.\-]+$")
_SERIAL = re.compile(
    r"^(?P<prefix>[A-Z]{2}-[A-Z0-9]{1,3}:[A-Za-z0-9.\-]+:[A-Za-z0-9.\-]+:P\d{6,}:\d{4}:I\d{3,}):"
    r"(?P<first>\d{9,})-(?P<last>\d{9,}):(?P<check>[0-9A-Z*])$"
)


def check_character(text: str) -> str:
    """ISO/IEC 7064 MOD 37-2 over the alphanumerics of `text`, case-folded."""
    total = 0
    for char in text.upper():
        value = ALPHABET.find(char)
        if value < 0:
            continue  # separators carry no information
        total = ((total + value) * 2) % 37
    return CHECK_ALPHABET[(1 - total) % 37]


def serial_prefix(
    region: str, methodology_id: str, methodology_version: str, project_number: int, vintage: int, issuance_number: int
) -> str:
    for name, value in (("methodology id", methodology_id), ("methodology version", methodology_version)):
        if not _FIELD.match(value):
            raise ValueError(f"{name} {value!r} may hold only letters, digits, '.' and '-'")
    return f"{region}:{methodology_id}:{methodology_version}:P{project_number:06d}:{vintage}:I{issuance_number:03d}"


def serial_number(prefix: str, first_unit: int, last_unit: int) -> str:
    body = f"{prefix}:{first_unit:09d}-{last_unit:09d}"
    return f"{body}:{check_character(body)}"


@dataclass(frozen=True)
class SerialRange:
    prefix: str
    first_unit: int
    last_unit: int


def parse_serial(serial: str) -> SerialRange:
    """Parse and check a serial; raises ValueError with the reason when it is not one of ours."""
    match = _SERIAL.match(serial.strip())
    if not match:
        raise ValueError("not a serial of the form region:methodology:version:Pnnnnnn:yyyy:Innn:first-last:check")
    body, _, check = serial.strip().rpartition(":")
    if check_character(body) != check:
        raise ValueError("the serial's check character does not match: it was mistyped")
    first, last = int(match["first"]), int(match["last"])
    if not 1 <= first <= last:
        raise ValueError("a serial range runs from a first unit >= 1 to a last unit >= first")
    return SerialRange(match["prefix"], first, last)
