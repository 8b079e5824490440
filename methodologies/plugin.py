"""The plugin contract: what a methodology declares and how it is run.

A methodology is data plus one pure function. `Methodology.quantify` does the steps every
plugin needs in the same order (parameters, schema, canonical order, fingerprint), so a
plugin's own function only ever sees validated parameters and a normalised, sorted table.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import pandas as pd
from pydantic import BaseModel, ValidationError

from methodologies.canonical import CanonicalInput, canonicalise, input_fingerprint
from methodologies.errors import ParameterError
from methodologies.factors import FactorTable, load_factor_table
from methodologies.quantification import Quantification
from methodologies.schema import InputSchema

ParamsT = TypeVar("ParamsT", bound=BaseModel)


class AssetKind(StrEnum):
    """What a project registers and its data rows name: one vocabulary for plugins and registry."""

    METER = "meter"
    CHARGER = "charger"
    PARCEL = "parcel"


@dataclass(frozen=True)
class QuantifyContext:
    """What a plugin's quantify function receives besides data and parameters."""

    methodology_id: str
    methodology_version: str
    input_fingerprint: str
    factors: FactorTable
    # Factor kind → factor id fixed by this methodology version (e.g. a local grid factor).
    pinned_factor_ids: Mapping[str, str]


QuantifyFunction = Callable[[CanonicalInput, ParamsT, QuantifyContext], Quantification]


@dataclass(frozen=True)
class Methodology(Generic[ParamsT]):
    id: str
    version: str
    title: str
    applicability: str
    params_model: type[ParamsT]
    input_schema: InputSchema
    # The input column that names the registered asset each row comes from, and its kind: the
    # registry accepts data only for the project's own registered assets.
    asset_column: str
    asset_kind: AssetKind
    quantify_function: QuantifyFunction[ParamsT] = field(repr=False)
    pinned_factor_ids: Mapping[str, str] = field(default_factory=dict)
    # The longest crediting period a project under this methodology may register for.
    max_crediting_years: int = 10
    # Its credits are removals (a sink took CO2 out of the air), not reductions: net-zero claims and
    # certificates show the two apart.
    removals: bool = False

    def __post_init__(self) -> None:
        if self.asset_column not in {c.name for c in self.input_schema.columns}:
            raise ValueError(f"{self.id}: asset_column {self.asset_column!r} is not an input column")
        object.__setattr__(self, "asset_kind", AssetKind(self.asset_kind))  # a plugin may pass the plain string

    def parse_params(self, params: ParamsT | Mapping[str, Any]) -> ParamsT:
        if isinstance(params, self.params_model):
            return params
        try:
            return self.params_model.model_validate(params)
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(part) for part in first["loc"]) or "params"
            raise ParameterError(
                f"{self.id} parameter '{location}': {first['msg']} ({error.error_count()} error(s))"
            ) from error

    def quantify(
        self,
        data: pd.DataFrame,
        params: ParamsT | Mapping[str, Any],
        factors: FactorTable | None = None,
    ) -> Quantification:
        parsed = self.parse_params(params)
        canonical = canonicalise(self.input_schema.normalise(data), self.input_schema)
        fingerprint = input_fingerprint(
            canonical,
            methodology_id=self.id,
            methodology_version=self.version,
            params_json=parsed.model_dump(mode="json"),
        )
        context = QuantifyContext(
            methodology_id=self.id,
            methodology_version=self.version,
            input_fingerprint=fingerprint,
            factors=factors if factors is not None else load_factor_table(),
            pinned_factor_ids=self.pinned_factor_ids,
        )
        return self.quantify_function(canonical, parsed, context)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "applicability": self.applicability,
            "params_schema": self.params_model.model_json_schema(),
            "input_columns": self.input_schema.describe(),
            "asset_column": self.asset_column,
            "asset_kind": self.asset_kind.value,
        }
