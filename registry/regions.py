"""Regions are ISO 3166-2 subdivision codes (CN-JS, CN-ZJ …), checked against pycountry's copy of
the standard, so that `Jiangsu` or a mistyped code never enters a scope, a project or a party."""

from __future__ import annotations

import pycountry

from registry import errors

ANY = "*"


def check_region(code: str, allow_any: bool = False) -> str:
    """The code if it names an ISO 3166-2 subdivision (or `*` where any region is allowed)."""
    if allow_any and code == ANY:
        return code
    if pycountry.subdivisions.get(code=code) is None:
        raise errors.InvalidRequest(
            f"{code!r} is not an ISO 3166-2 subdivision code; write it like CN-JS (Jiangsu) or CN-ZJ (Zhejiang)"
            + (", or '*' for any region" if allow_any else ""))
    return code
