"""CIR-WET-SINK 1.0 — carbon sink of restored or conserved coastal wetlands (stock difference).

Input is one table with a `record` column: `stratum` rows give each stratum's type, area and
salinity at a monitoring date; `plot` rows give plot carbon stocks (biomass and soil organic
carbon, t C/ha). Exactly two monitoring dates. See docs/methodologies/CIR-WET-SINK.md.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from methodologies.canonical import CanonicalInput
from methodologies.errors import InputDataError
from methodologies.plugin import AssetKind, Methodology, QuantifyContext
from methodologies.quantification import (
    FactorUsed,
    FindingCollector,
    Quantification,
    Severity,
    VintageAmounts,
    build_quantification,
)
from methodologies.schema import ColumnSpec, InputSchema

CO2_PER_C = Fraction(44, 12)
KG_PER_T = 1000
M2_PER_HA = 10_000
KG_PER_T_STOCK = 1000  # plot stocks are encoded at scale 3: kg C/ha
DAYS_PER_YEAR = 365
MIN_PLOTS = 2  # a sample variance needs two plots
UNCERTAINTY_ALLOWANCE = Fraction(1, 10)
LOW_SALINITY_PPT = 18

WETLANDS_SUPPLEMENT = (
    "IPCC 2013 Supplement to the 2006 IPCC Guidelines: Wetlands, chapter 4 (coastal wetlands)"
)
# Soil carbon accumulation after rewetting, revegetation or creation, t C/ha/yr (Table 4.12).
DEFAULT_ACCUMULATION_TC_PER_HA_YEAR: dict[str, Decimal] = {
    "mangrove": Decimal("1.62"),
    "tidal_marsh": Decimal("0.91"),
    "seagrass": Decimal("0.43"),
}
# CH4 from rewetted or created tidal freshwater and brackish wetlands below 18 ppt salinity,
# kg CH4/ha/yr (Table 4.14); above 18 ppt it is taken as negligible.
DEFAULT_CH4_KG_PER_HA_YEAR = Decimal("193.7")
GWP_CH4: dict[str, int] = {"AR4": 25, "AR5": 28, "AR6": 27}
GWP_SOURCE = {
    "AR4": "IPCC AR4 WG1 Table 2.14 (100-year GWP)",
    "AR5": "IPCC AR5 WG1 Table 8.7 (100-year GWP, no climate-carbon feedback)",
    "AR6": "IPCC AR6 WG1 Table 7.15 (100-year GWP, non-fossil CH4 27.0)",
}
# One-sided 95 % Student t (two-sided 90 % interval). A df not listed uses the next smaller
# listed df, which has the larger t: the conservative side.
T_90_PERCENT: dict[int, Decimal] = {
    1: Decimal("6.314"),
    2: Decimal("2.920"),
    3: Decimal("2.353"),
    4: Decimal("2.132"),
    5: Decimal("2.015"),
    6: Decimal("1.943"),
    7: Decimal("1.895"),
    8: Decimal("1.860"),
    9: Decimal("1.833"),
    10: Decimal("1.812"),
    12: Decimal("1.782"),
    15: Decimal("1.753"),
    20: Decimal("1.725"),
    25: Decimal("1.708"),
    30: Decimal("1.697"),
    40: Decimal("1.684"),
    60: Decimal("1.671"),
    120: Decimal("1.658"),
}


class WetlandParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gwp_table: Literal["AR4", "AR5", "AR6"] = Field(
        default="AR5", description="CH4 GWP source; AR5 (28) is the highest of AR5/AR6, so conservative"
    )
    ch4_kg_per_ha_year_low_salinity: Decimal = Field(default=DEFAULT_CH4_KG_PER_HA_YEAR, ge=0)
    leakage_share: Decimal = Field(default=Decimal("0"), ge=0, le=1)
    buffer_share: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1)
    timezone: str = "Asia/Shanghai"


INPUT_SCHEMA = InputSchema(
    (
        ColumnSpec("record", "text", "'stratum' or 'plot'"),
        ColumnSpec("stratum_id", "text", "Stratum identifier"),
        ColumnSpec("monitoring_date", "date", "Monitoring date, YYYY-MM-DD (local calendar date)"),
        ColumnSpec("wetland_type", "text", "stratum rows: mangrove, tidal_marsh, seagrass, …", nullable=True),
        ColumnSpec("area_ha", "number", "stratum rows: area at the monitoring date", nullable=True, scale=4),
        ColumnSpec(
            "salinity_ppt",
            "number",
            "stratum rows: mean salinity; empty counts as low",
            required=False,
            nullable=True,
        ),
        ColumnSpec("plot_id", "text", "plot rows: plot identifier", required=False, nullable=True),
        ColumnSpec(
            "biomass_tc_per_ha",
            "number",
            "plot rows: biomass carbon stock",
            required=False,
            nullable=True,
            scale=3,
        ),
        ColumnSpec(
            "soc_tc_per_ha",
            "number",
            "plot rows: soil organic carbon stock",
            required=False,
            nullable=True,
            scale=3,
        ),
    )
)


def _mean_tc(values_kg: list[int]) -> Fraction:
    return Fraction(sum(values_kg), len(values_kg) * KG_PER_T_STOCK)


def _variance_of_mean_tc2(values_kg: list[int]) -> Fraction:
    """Sample variance divided by n, in (t C/ha)²."""
    count, total = len(values_kg), sum(values_kg)
    squares = sum(value * value for value in values_kg)
    variance = Fraction(squares * count - total**2, count * (count - 1))
    return variance / count / KG_PER_T_STOCK**2


@dataclass
class _Stratum:
    stratum_id: str
    wetland_type: str
    row: int
    area_m2: dict[int, int]
    # Monitoring date index (0, 1) → plot id → total stock (biomass + SOC), kg C/ha.
    plots: dict[int, dict[str, int]]
    # Salinity at each stratum row; empty cells are None and count as low salinity.
    salinity_ppt: list[float | None]

    @property
    def low_salinity(self) -> bool:
        return any(value is None or value < LOW_SALINITY_PPT for value in self.salinity_ppt)


def _sqrt(value: Fraction) -> Fraction:
    """A square root rounded up, never down: it sizes the uncertainty deduction, which must not
    come out smaller than the data support."""
    with localcontext() as context:
        context.prec = 40
        context.rounding = ROUND_CEILING
        return Fraction((Decimal(value.numerator) / Decimal(value.denominator)).sqrt())


def _t_90(degrees_of_freedom: int) -> Decimal:
    return T_90_PERCENT[max(df for df in T_90_PERCENT if df <= degrees_of_freedom)]


def _read_strata(canonical: CanonicalInput) -> tuple[list[date], dict[str, _Stratum]]:
    frame = canonical.frame
    record = frame["record"].astype("string").to_numpy()
    unknown = ~np.isin(record, ["stratum", "plot"])
    if unknown.any():
        position = int(np.argmax(unknown))
        raise InputDataError(
            "record must be 'stratum' or 'plot'", column="record", row=canonical.source_row(position)
        )
    dates = sorted({d.date() for d in frame["monitoring_date"]})
    if len(dates) != 2:
        raise InputDataError(
            f"needs exactly two monitoring dates, found {len(dates)}", column="monitoring_date"
        )
    date_index = (frame["monitoring_date"].dt.date == dates[1]).astype(int).to_numpy()
    area_m2 = canonical.columns["area_ha"].values
    plot_columns = ("plot_id", "biomass_tc_per_ha", "soc_tc_per_ha")
    is_plot = record == "plot"
    for column in plot_columns:
        if is_plot.any() and column not in frame.columns:
            raise InputDataError("missing column needed by plot rows", column=column)
    if is_plot.any():
        biomass = canonical.columns["biomass_tc_per_ha"].values
        soc = canonical.columns["soc_tc_per_ha"].values
    else:
        biomass = soc = np.zeros(len(frame), dtype=np.int64)
    strata: dict[str, _Stratum] = {}

    def need(column: str, position: int) -> None:
        if pd.isna(frame[column].iloc[position]):
            raise InputDataError(
                f"empty value in a {record[position]} row", column=column, row=canonical.source_row(position)
            )

    for position in np.flatnonzero(record == "stratum").tolist():
        for column in ("wetland_type", "area_ha"):
            need(column, position)
        if area_m2[position] < 0:
            raise InputDataError("negative area", column="area_ha", row=canonical.source_row(position))
        stratum_id = str(frame["stratum_id"].iloc[position])
        salinity = frame["salinity_ppt"].iloc[position] if "salinity_ppt" in frame else None
        stratum = strata.setdefault(
            stratum_id,
            _Stratum(
                stratum_id,
                str(frame["wetland_type"].iloc[position]),
                canonical.source_row(position),
                {},
                {},
                [],
            ),
        )
        when = int(date_index[position])
        if when in stratum.area_m2:
            raise InputDataError(
                f"stratum '{stratum_id}' has two rows for one date",
                column="stratum_id",
                row=canonical.source_row(position),
            )
        stratum.area_m2[when] = int(area_m2[position])
        stratum.salinity_ppt.append(None if salinity is None or pd.isna(salinity) else float(salinity))
    seen_plots: set[tuple[str, str, int]] = set()
    for position in np.flatnonzero(is_plot).tolist():
        for column in plot_columns:
            need(column, position)
        stratum_id = str(frame["stratum_id"].iloc[position])
        if stratum_id not in strata:
            raise InputDataError(
                f"plot in stratum '{stratum_id}', which has no stratum row",
                column="stratum_id",
                row=canonical.source_row(position),
            )
        if (
            canonical.columns["biomass_tc_per_ha"].values[position] < 0
            or canonical.columns["soc_tc_per_ha"].values[position] < 0
        ):
            raise InputDataError(
                "negative carbon stock", column="soc_tc_per_ha", row=canonical.source_row(position)
            )
        when = int(date_index[position])
        key = (stratum_id, str(frame["plot_id"].iloc[position]), when)
        if key in seen_plots:
            raise InputDataError(
                "plot measured twice on one date", column="plot_id", row=canonical.source_row(position)
            )
        seen_plots.add(key)
        strata[stratum_id].plots.setdefault(when, {})[key[1]] = int(biomass[position] + soc[position])
    for stratum in strata.values():
        if len(stratum.area_m2) != 2:
            raise InputDataError(
                f"stratum '{stratum.stratum_id}' needs an area at both monitoring dates",
                column="area_ha",
                row=stratum.row,
            )
    return dates, strata


@dataclass(frozen=True)
class _Totals:
    """Exact totals over the monitoring period."""

    stock_change_tc: Fraction
    uncertainty_tc: Fraction
    ch4_co2e_kg: Fraction
    credited_area_m2: int
    excluded_area_m2: int


def _totals(
    strata: dict[str, _Stratum], years: Fraction, params: WetlandParams, findings: FindingCollector
) -> tuple[_Totals, list[FactorUsed]]:
    sampled_change_tc = Fraction(0)
    sampled_variance = Fraction(0)
    degrees_of_freedom = 0
    default_change_tc = Fraction(0)
    ch4_kg = Fraction(0)
    defaults_used: set[str] = set()
    few_plots: list[str] = []
    credited_m2 = excluded_m2 = 0
    for stratum in strata.values():
        first_m2, second_m2 = stratum.area_m2[0], stratum.area_m2[1]
        common_ha = Fraction(min(first_m2, second_m2), M2_PER_HA)
        lost_ha = Fraction(max(0, first_m2 - second_m2), M2_PER_HA)
        credited_m2 += min(first_m2, second_m2)
        excluded_m2 += max(0, second_m2 - first_m2)
        before, after = stratum.plots.get(0, {}), stratum.plots.get(1, {})
        if len(before) >= MIN_PLOTS and len(after) >= MIN_PLOTS:
            first_kg, second_kg = list(before.values()), list(after.values())
            mean_before = _mean_tc(first_kg)
            if before.keys() == after.keys():
                # Permanent plots: the change is measured plot by plot, which removes the
                # (large) between-plot variation from the uncertainty.
                differences = [after[plot] - before[plot] for plot in sorted(before)]
                mean_change, change_variance = _mean_tc(differences), _variance_of_mean_tc2(differences)
                degrees_of_freedom += len(differences) - 1
            else:
                mean_change = _mean_tc(second_kg) - mean_before
                change_variance = _variance_of_mean_tc2(second_kg) + _variance_of_mean_tc2(first_kg)
                degrees_of_freedom += len(first_kg) + len(second_kg) - 2
            # Stock kept on the common area changes; stock on area lost is lost entirely.
            sampled_change_tc += common_ha * mean_change - lost_ha * mean_before
            sampled_variance += common_ha**2 * change_variance + lost_ha**2 * _variance_of_mean_tc2(first_kg)
        else:
            if before or after:
                few_plots.append(stratum.stratum_id)
            rate = DEFAULT_ACCUMULATION_TC_PER_HA_YEAR.get(stratum.wetland_type)
            if rate is None:
                raise InputDataError(
                    f"stratum '{stratum.stratum_id}' has fewer than {MIN_PLOTS} plots at a date and no IPCC "
                    f"default rate exists for '{stratum.wetland_type}' "
                    f"(defaults: {', '.join(DEFAULT_ACCUMULATION_TC_PER_HA_YEAR)})",
                    column="wetland_type",
                    row=stratum.row,
                )
            if lost_ha:
                raise InputDataError(
                    f"stratum '{stratum.stratum_id}' lost area without plot data: the lost stock is unknown",
                    column="area_ha",
                    row=stratum.row,
                )
            default_change_tc += common_ha * Fraction(rate) * years
            defaults_used.add(stratum.wetland_type)
        if stratum.low_salinity:
            # The larger of the two areas: the conservative side for an emission.
            emitting_ha = Fraction(max(first_m2, second_m2), M2_PER_HA)
            ch4_kg += emitting_ha * Fraction(params.ch4_kg_per_ha_year_low_salinity) * years
    findings.add(
        "TOO_FEW_PLOTS",
        Severity.FLAG,
        len(few_plots),
        f"strata with fewer than {MIN_PLOTS} plots at a date use the IPCC default accumulation rate",
        sorted(few_plots),
    )
    uncertainty_tc = Fraction(0)
    if sampled_change_tc > 0 and degrees_of_freedom > 0:
        half_width_tc = Fraction(_t_90(degrees_of_freedom)) * _sqrt(sampled_variance)
        relative = half_width_tc / sampled_change_tc
        if relative > UNCERTAINTY_ALLOWANCE:
            uncertainty_tc = min(sampled_change_tc, half_width_tc - UNCERTAINTY_ALLOWANCE * sampled_change_tc)
            findings.add(
                "UNCERTAINTY_ABOVE_10_PERCENT",
                Severity.INFO,
                1,
                "90 % confidence half-width above 10 % of the sampled stock change; the excess is deducted",
                [f"half-width {float(relative) * 100:.1f} % of the mean"],
            )
    gwp = GWP_CH4[params.gwp_table]
    factors = [
        FactorUsed(
            factor_id=f"IPCC-{params.gwp_table}-GWP100-CH4",
            value=str(gwp),
            unit="kgCO2e/kgCH4",
            source=GWP_SOURCE[params.gwp_table],
            version=params.gwp_table,
            selection="set by project" if "gwp_table" in params.model_fields_set else "methodology default",
            vintage_years=(),
        ),
        FactorUsed(
            factor_id="IPCC-2013-WETLANDS-T4.14-CH4",
            value=str(params.ch4_kg_per_ha_year_low_salinity),
            unit="kgCH4/ha/yr",
            source=f"{WETLANDS_SUPPLEMENT}, Table 4.14 (salinity < {LOW_SALINITY_PPT} ppt)",
            version="2013",
            selection="set by project"
            if "ch4_kg_per_ha_year_low_salinity" in params.model_fields_set
            else "methodology default",
            vintage_years=(),
        ),
    ]
    factors += [
        FactorUsed(
            factor_id=f"IPCC-2013-WETLANDS-T4.12-{wetland_type}",
            value=str(DEFAULT_ACCUMULATION_TC_PER_HA_YEAR[wetland_type]),
            unit="tC/ha/yr",
            source=f"{WETLANDS_SUPPLEMENT}, Table 4.12",
            version="2013",
            selection="methodology default (too few plots)",
            vintage_years=(),
        )
        for wetland_type in sorted(defaults_used)
    ]
    totals = _Totals(
        stock_change_tc=sampled_change_tc + default_change_tc,
        uncertainty_tc=uncertainty_tc,
        ch4_co2e_kg=ch4_kg * gwp,
        credited_area_m2=credited_m2,
        excluded_area_m2=excluded_m2,
    )
    return totals, factors


def _days_by_year(first: date, second: date) -> dict[int, int]:
    """Days of the monitoring period [first, second) in each calendar year."""
    days: dict[int, int] = {}
    for year in range(first.year, second.year + 1):
        begin = max(first, date(year, 1, 1))
        end = min(second, date(year + 1, 1, 1))
        if end > begin:
            days[year] = (end - begin).days
    return days


def _quantify(canonical: CanonicalInput, params: WetlandParams, context: QuantifyContext) -> Quantification:
    dates, strata = _read_strata(canonical)
    total_days = (dates[1] - dates[0]).days
    years = Fraction(total_days, DAYS_PER_YEAR)
    findings = FindingCollector()
    totals, factors = _totals(strata, years, params, findings)
    removals_kg = totals.stock_change_tc * CO2_PER_C * KG_PER_T
    uncertainty_kg = totals.uncertainty_tc * CO2_PER_C * KG_PER_T
    leakage_kg = max(Fraction(0), removals_kg) * Fraction(params.leakage_share)
    vintages = []
    for year, days in _days_by_year(dates[0], dates[1]).items():
        share = Fraction(days, total_days)
        period_start = max(dates[0], date(year, 1, 1))
        period_end = min(dates[1], date(year + 1, 1, 1)) - timedelta(days=1)
        vintages.append(
            VintageAmounts(
                vintage_year=year,
                period_start=period_start.isoformat(),
                period_end=period_end.isoformat(),
                removals_kg=removals_kg * share,
                project_kg=totals.ch4_co2e_kg * share,
                leakage_kg=leakage_kg * share,
                uncertainty_kg=uncertainty_kg * share,
                buffer_share=Fraction(params.buffer_share),
                credited_area_m2=totals.credited_area_m2,
                excluded_area_m2=totals.excluded_area_m2,
            )
        )
    return build_quantification(
        methodology_id=context.methodology_id,
        methodology_version=context.methodology_version,
        input_fingerprint=context.input_fingerprint,
        vintages=vintages,
        factors=factors,
        findings=findings,
    )


METHODOLOGY: Methodology[WetlandParams] = Methodology(
    id="CIR-WET-SINK",
    version="1.0",
    max_crediting_years=30,  # sinks accrue over decades
    removals=True,
    title="Coastal wetland carbon sink (stock difference)",
    applicability=(
        "Restored, created or conserved coastal wetlands (mangrove, tidal marsh, seagrass) with a "
        "stratified plot inventory at two monitoring dates; other wetland types need plot data."
    ),
    params_model=WetlandParams,
    input_schema=INPUT_SCHEMA,
    asset_column="stratum_id",
    asset_kind=AssetKind.PARCEL,
    quantify_function=_quantify,
)
