import importlib
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from methodologies.errors import MethodologyNotFound
from methodologies.registry import clear_discovery_cache, get_methodology, list_methodologies

BUILT_INS = [("CIR-EV-CHG", "1.0"), ("CIR-LIGHT", "1.0"), ("CIR-PV-DG", "1.0"), ("CIR-WET-SINK", "1.0")]

PLUGIN_SOURCE = """
from fractions import Fraction

from pydantic import BaseModel

from methodologies.plugin import Methodology
from methodologies.quantification import FindingCollector, VintageAmounts, build_quantification
from methodologies.schema import ColumnSpec, InputSchema


class StoveParams(BaseModel):
    kg_co2_per_kg_wood: str = "1.5"


def quantify(canonical, params, context):
    saved_g = int(canonical.columns["wood_saved_kg"].values.sum())
    return build_quantification(
        methodology_id=context.methodology_id,
        methodology_version=context.methodology_version,
        input_fingerprint=context.input_fingerprint,
        vintages=[
            VintageAmounts(
                vintage_year=2023,
                period_start="2023-01-01",
                period_end="2023-12-31",
                baseline_kg=Fraction(saved_g, 1000) * Fraction(params.kg_co2_per_kg_wood),
            )
        ],
        factors=[],
        findings=FindingCollector(),
    )


METHODOLOGY = Methodology(
    id="X-COOKSTOVE",
    version="0.1",
    title="Improved cookstoves (test plugin)",
    applicability="tests only",
    params_model=StoveParams,
    input_schema=InputSchema(
        (ColumnSpec("stove_id", "text", "stove"), ColumnSpec("wood_saved_kg", "number", "wood", scale=3))
    ),
    asset_column="stove_id",
    asset_kind="meter",
    quantify_function=quantify,
)
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A distribution outside the tree, installed the way pip would lay it out."""
    package = tmp_path / "cir_cookstove_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(PLUGIN_SOURCE)
    dist_info = tmp_path / "cir_cookstove_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: cir-cookstove-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [cir.methodologies]
            X-COOKSTOVE = cir_cookstove_plugin:METHODOLOGY
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    clear_discovery_cache()
    yield
    clear_discovery_cache()


def test_built_ins_are_discovered_through_entry_points() -> None:
    assert [(m.id, m.version) for m in list_methodologies()] == BUILT_INS


def test_get_methodology_by_id_and_version() -> None:
    assert get_methodology("CIR-PV-DG").title == "Distributed photovoltaic generation"
    assert get_methodology("CIR-PV-DG", "1.0").version == "1.0"
    with pytest.raises(
        MethodologyNotFound, match=r"CIR-PV-DG 9.9 is not installed \(installed: CIR-EV-CHG 1.0"
    ):
        get_methodology("CIR-PV-DG", "9.9")
    with pytest.raises(MethodologyNotFound, match="methodology NOPE is not installed"):
        get_methodology("NOPE")


def test_a_third_party_plugin_is_listed_and_used(installed_plugin: None) -> None:
    ids = [m.id for m in list_methodologies()]
    assert ids == ["CIR-EV-CHG", "CIR-LIGHT", "CIR-PV-DG", "CIR-WET-SINK", "X-COOKSTOVE"]
    stove = get_methodology("X-COOKSTOVE")
    data = pd.DataFrame({"stove_id": ["a", "b"], "wood_saved_kg": ["100.5", "200"]})
    result = stove.quantify(data, {})
    assert result.methodology_id == "X-COOKSTOVE"
    assert result.totals.net_reduction_kg == 450  # 300.5 kg wood × 1.5 = 450.75
    assert result.input_fingerprint.startswith("sha256:")
