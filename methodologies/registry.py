"""Finding installed methodologies through the `cir.methodologies` entry-point group.

The built-in methodologies register exactly like a third party's: installing a package that
declares an entry point in this group is all it takes to add one. The name of an entry point
is the methodology id; its object is a `Methodology`.
"""

from functools import cache
from importlib.metadata import entry_points

from methodologies.errors import MethodologyError, MethodologyNotFound
from methodologies.plugin import Methodology

ENTRY_POINT_GROUP = "cir.methodologies"


@cache
def _discover() -> tuple[Methodology, ...]:
    found: list[Methodology] = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry_point.load()
        if not isinstance(loaded, Methodology):
            raise MethodologyError(
                f"entry point {entry_point.name} = {entry_point.value} is not a Methodology"
            )
        if loaded.id != entry_point.name:
            raise MethodologyError(
                f"entry point {entry_point.name} loads methodology {loaded.id}; the names must match"
            )
        found.append(loaded)
    return tuple(sorted(found, key=lambda m: (m.id, _version_key(m.version))))


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Numeric parts compare as numbers, so 1.10 is newer than 1.9."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in version.split("."))


def clear_discovery_cache() -> None:
    """Forget what was discovered, e.g. after installing a plugin into a running process."""
    _discover.cache_clear()


def list_methodologies() -> list[Methodology]:
    return list(_discover())


def get_methodology(methodology_id: str, version: str | None = None) -> Methodology:
    """The requested version, or the newest installed version of that id."""
    candidates = [m for m in _discover() if m.id == methodology_id]
    if version is not None:
        candidates = [m for m in candidates if m.version == version]
    if not candidates:
        available = [f"{m.id} {m.version}" for m in _discover()]
        raise MethodologyNotFound(methodology_id, version, available)
    return candidates[-1]
