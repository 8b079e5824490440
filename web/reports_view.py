"""What the owner and the verifier see of a monitoring report, in one place: the data over the
period (a chart read from the stored file), the QA findings, the totals per vintage, the factors
with their sources, the parameters used and the trail; and the methodology's parameters as form
fields generated from its parameter model, and back.

Nothing here decides anything: the quantification is the one the registry stored when the data
were uploaded; parameters are checked by the methodology when the report is created.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import FileResponse
from markupsafe import Markup
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from methodologies.errors import MethodologyError
from methodologies.loading import load_table
from methodologies.plugin import Methodology
from registry.db import Database
from registry.models import Account, Party, Project
from registry.settings import Settings
from verification import queries as verification_queries
from verification.blobs import BlobStore
from verification.errors import UnknownBlob, UploadTooLarge
from verification.models import MonitoringReport, ReportStatus
from verification.projects import get_methodology_or_invalid
from verification.reports import get_readable_report, project_of
from verification.schemas import EventOut, ReportOut
from web import charts, i18n
from web.i18n import N_
from web.pages import translate

# --- units and words for the methodologies' parameters ------------------------------------------

# Parameter and column names carry their unit (`capacity_kwp`, `area_ha`): the unit shown beside a
# field is read from the name, longest suffix first.
UNIT_SUFFIXES = (
    ("_kwh_per_100km", "kWh/100 km"),
    ("_l_per_100km", "L/100 km"),
    ("_kg_per_ha_year_low_salinity", "kg CH4/(ha·a)"),
    ("_kg_per_kwh", "kg CO2/kWh"),
    ("_kg_per_l", "kg CO2/L"),
    ("_kwh_by_year", "kWh"),
    ("_kwp", "kWp"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_w", "W"),
    ("_ha", "ha"),
    ("_m2", "m²"),
    ("_minutes", "min"),
    ("_ppt", "‰"),
)
UNIT_NAMES = {"latitude": "°", "longitude": "°"}
# Units a project's capacity can be stated in: the first parameter (or data column) of a
# methodology with one of these is what the project's capacity is measured in.
CAPACITY_UNITS = ("kWp", "kW", "W", "ha", "m²")


def unit_of(name: str) -> str | None:
    if name in UNIT_NAMES:
        return UNIT_NAMES[name]
    return next((unit for suffix, unit in UNIT_SUFFIXES if name.endswith(suffix)), None)


# Labels and hints for the installed methodologies' parameters (by name; a nested parameter by
# its own name). A parameter not listed here is labelled from its name and the model's description.
PARAMETER_TEXT: dict[str, tuple[str, str]] = {
    "region": (N_("Region"), N_("The province of the project: it chooses the regional grid's emission factor.")),
    "grid_region": (N_("Regional grid"), N_(
        "Only where a province spans two grids (eastern Inner Mongolia is NORTHEAST). Leave empty otherwise.")),
    "grid_factor_pin": (N_("Pinned grid factor"), N_(
        "Only if the project uses a factor other than the regional default: the id of a row of the factor "
        "table (e.g. SH-SEEB-2022-LOCAL), or an id with its value and source.")),
    "factor_id": (N_("Factor id"), ""),
    "value_kg_per_kwh": (N_("Factor value"), N_("Only for a factor the table does not ship.")),
    "source": (N_("Source of the factor"), N_("Required with a value: where the number comes from.")),
    "timezone": (N_("Time zone"), N_("Of the meters' clocks, as an IANA name: Asia/Shanghai in mainland China.")),
    "capacity_kwp": (N_("DC capacity"), N_("The plant's total module capacity, all meters together.")),
    "inverter_ac_kw": (N_("Inverter AC rating"), N_("The plant's total inverter AC rating.")),
    "latitude": (N_("Latitude"), N_("Of the site, in decimal degrees: QA computes the sun's position from it.")),
    "longitude": (N_("Longitude"), N_("Of the site, in decimal degrees.")),
    "meter_accuracy_class": (N_("Meter accuracy class"), N_(
        "As printed on the generation meter (GB/T 17215): 0.2S, 0.5S, 1 or 2.")),
    "calibration_due_date": (N_("Calibration due date"), N_(
        "When the meters are next due for calibration: readings after it are reduced by the class's "
        "maximum permissible error.")),
    "green_certificate_kwh_by_year": (N_("Energy sold as green certificates"), N_(
        "One line per year: the year, a colon and the kWh claimed as green electricity certificates (GEC), "
        "e.g. 2026: 1200. That energy is deducted, never credited twice. Leave empty if none was sold.")),
    "interval_minutes": (N_("Reading interval"), N_("15 or 60 minutes; leave empty to infer it from the data.")),
    "meter_ratings": (N_("Ratings per meter"), N_(
        "One line per meter: its id, DC capacity in kWp and inverter AC rating in kW, separated by commas, "
        "e.g. SIP-HH-01, 30, 25. When given, QA checks each meter against its own rating.")),
    "charger_rated_kw": (N_("Rated power of each charger"), N_("As on the charger's name plate.")),
    "charger_ratings_kw": (N_("Rated power per charger"), N_(
        "Only where chargers differ: one line per charger, its id, a colon and its rated kW, e.g. SIP-EV-01: 60.")),
    "vehicle_class": (N_("Vehicle class"), N_("The vehicles that charge here; it sets the default figures below.")),
    "ev_consumption_kwh_per_100km": (N_("EV consumption"), N_("Leave empty for the class default.")),
    "fuel": (N_("Fuel of the displaced vehicle"), N_("Leave empty for the class default.")),
    "fuel_economy_l_per_100km": (N_("Fuel economy of the displaced vehicle"), N_(
        "Leave empty for the class default.")),
    "fuel_emission_factor_kg_per_l": (N_("Fuel emission factor"), N_("Leave empty for the IPCC default.")),
    "charging_loss_share": (N_("Charging losses"), N_("The share of energy lost in charging, from 0 to 1.")),
    "green_power_share": (N_("On-site green power"), N_(
        "The share of charging energy from on-site renewables, 0 to 1.")),
    "circuits": (N_("Circuits before the retrofit"), N_(
        "One line per lighting circuit: its id, the number of fixtures and the rated power of each in W "
        "(ballast included), separated by commas, e.g. L1, 100, 250.")),
    "operating_window": (N_("Operating hours"), N_("Local time the lights are meant to run; may cross midnight.")),
    "start": (N_("From"), ""),
    "end": (N_("Until"), ""),
    "gwp_table": (N_("Global warming potentials"), N_("The IPCC report whose CH4 GWP applies; AR5 is the most "
                                                      "conservative.")),
    "ch4_kg_per_ha_year_low_salinity": (N_("CH4 emissions of low-salinity wetland"), N_(
        "IPCC default 193.7; change it only with measurements.")),
    "leakage_share": (N_("Leakage"), N_("The share of removals lost to activity moved elsewhere, 0 to 1.")),
    "buffer_share": (N_("Buffer pool share"), N_(
        "The share of the verified total set aside against reversal, 0 to 1.")),
}


@dataclass
class ParamField:
    """One parameter as a form field. `kind`: text, decimal, number, integer, date, time, select,
    group (a nested model: its `children`), table (key → nested model, one line per key, with
    `children` as the columns) or mapping (key → value, one line per key)."""

    name: str
    path: tuple[str, ...]
    kind: str
    label: str
    hint: str
    unit: str | None
    required: bool
    default: Any = None
    options: list[Any] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label) of a select's options
    children: list[ParamField] = field(default_factory=list)

    @property
    def input_id(self) -> str:
        return "param-" + "-".join(self.path)


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A property's schema without `$ref` and without its null alternative, and whether it may be null.
    A number-or-string alternative is a `Decimal` parameter: an exact number written as text."""
    nullable = False
    resolved = dict(schema)
    if "anyOf" in resolved:
        options = [o for o in resolved.pop("anyOf") if o.get("type") != "null"]
        nullable = len(options) < len(schema["anyOf"])
        types = {o.get("type") for o in options}
        if len(options) == 1:
            resolved = {**options[0], **resolved}
        elif types == {"number", "string"}:
            resolved = {**resolved, "type": "number", "decimal": True}
        else:
            resolved = {**resolved, "type": "string"}
    if "$ref" in resolved:
        target = defs[resolved.pop("$ref").rsplit("/", 1)[-1]]
        resolved = {**target, **{k: v for k, v in resolved.items() if k != "title"}}
    return resolved, nullable


def _field(request: Request, name: str, path: tuple[str, ...], schema: dict[str, Any], defs: dict[str, Any],
           required: bool) -> ParamField:
    resolved, nullable = _resolve(schema, defs)
    label, hint = PARAMETER_TEXT.get(name, (name.replace("_", " ").capitalize(), resolved.get("description", "")))
    made = ParamField(name, path, "text", translate(request, label), translate(request, hint) if hint else "",
                      unit_of(name), required and not nullable, resolved.get("default"))
    kind = resolved.get("type")
    if "enum" in resolved:
        made.kind, made.options = "select", list(resolved["enum"])
        language = i18n.language_of(request)
        made.choices = [(str(option), i18n.status_label(str(option), language)) for option in made.options]
    elif kind == "object" and "properties" in resolved:
        made.kind = "group"
        made.children = [_field(request, child, (*path, child), child_schema, defs,
                                child in resolved.get("required", []))
                         for child, child_schema in resolved["properties"].items()]
    elif kind == "object":
        value_schema, _ = _resolve(resolved.get("additionalProperties", {}), defs)
        if "properties" in value_schema:
            made.kind = "table"
            made.children = [_field(request, child, (*path, child), child_schema, defs, True)
                             for child, child_schema in value_schema["properties"].items()]
        else:
            made.kind = "mapping"
    elif kind == "number":
        made.kind = "decimal" if resolved.get("decimal") else "number"
    elif kind == "integer":
        made.kind = "integer"
    elif resolved.get("format") in ("date", "time"):
        made.kind = resolved["format"]
    return made


def param_fields(request: Request, methodology: Methodology[Any]) -> list[ParamField]:
    """The methodology's parameters as form fields, from its parameter model's JSON schema."""
    schema = methodology.params_model.model_json_schema()
    defs = schema.get("$defs", {})
    return [_field(request, name, (name,), prop, defs, name in schema.get("required", []))
            for name, prop in schema.get("properties", {}).items()]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def form_values(fields: list[ParamField], params: Mapping[str, Any]) -> dict[str, str]:
    """The form's text for stored parameters (a report's, to fill the form in again)."""
    values: dict[str, str] = {}
    for f in fields:
        value = params.get(f.name)
        if value is None:
            continue
        if f.kind == "group" and isinstance(value, Mapping):
            values |= form_values(f.children, value)
        elif f.kind == "mapping" and isinstance(value, Mapping):
            values[f.input_id] = "\n".join(f"{key}: {_text(item)}" for key, item in value.items())
        elif f.kind == "table" and isinstance(value, Mapping):
            values[f.input_id] = "\n".join(
                ", ".join([str(key), *(_text(row.get(c.name)) for c in f.children)])
                for key, row in value.items() if isinstance(row, Mapping))
        else:
            values[f.input_id] = _text(value)
    return values


def default_values(fields: list[ParamField]) -> dict[str, str]:
    """The parameter model's own defaults, shown so that the owner sees what applies when left alone."""
    values: dict[str, str] = {}
    for f in fields:
        if f.kind == "group":
            values |= default_values(f.children)
        elif f.default not in (None, {}, []):
            values[f.input_id] = _text(f.default)
    return values


def capacity_field(methodology: Methodology[Any]) -> tuple[str, str] | None:
    """(parameter or data column, unit): what a project's capacity is measured in under this
    methodology, from the first of its parameters, nested parameters or data columns whose name
    carries a unit of power or area (PV's capacity_kwp, a charger's rated kW, a parcel's area_ha)."""
    schema = methodology.params_model.model_json_schema()
    names = [*schema.get("properties", {}),
             *(name for model in schema.get("$defs", {}).values() for name in model.get("properties", {})),
             *methodology.input_schema.names]
    return next(((name, unit) for name in names if (unit := unit_of(name)) in CAPACITY_UNITS), None)


def project_values(fields: list[ParamField], methodology: Methodology[Any], project: Project) -> dict[str, str]:
    """What the project already says: its region, coordinates and capacity, where the methodology
    has parameters of those names (a capacity parameter is named capacity_…: a charger's rating in
    the same unit is one charger's, not the project's)."""
    known: dict[str, Any] = {"region": project.region, "latitude": project.latitude,
                             "longitude": project.longitude}
    capacity = capacity_field(methodology)
    if capacity is not None and capacity[0].startswith("capacity") and project.capacity is not None \
            and project.capacity_unit == capacity[1]:
        known[capacity[0]] = f"{project.capacity:g}"
    return {f.input_id: _text(known[f.name]) for f in fields if known.get(f.name) is not None}


def _scalar(f: ParamField, text: str) -> Any:
    """The typed value of a field's text; text the type refuses is passed on as text, so that the
    methodology's own check names the parameter and says what is wrong."""
    if f.kind == "select":
        return next((option for option in f.options if str(option) == text), text)
    try:
        if f.kind == "integer":
            return int(text)
        if f.kind == "number":
            return float(text)
    except ValueError:
        return text
    return text  # decimals stay text: exact, as the methodology reads them


SEPARATORS = re.compile(r"\s*[,;\t]\s*")


def _lines(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def params_from_form(request: Request, fields: list[ParamField], form: FormData | Mapping[str, Any]
                     ) -> tuple[dict[str, Any], dict[str, str]]:
    """The parameters the form describes (empty fields left out, so that defaults apply), and the
    lines of a table or mapping that cannot be read. Values are checked by the methodology."""
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if f.kind == "group":
            nested, nested_errors = params_from_form(request, f.children, form)
            errors.update(nested_errors)
            if nested:
                params[f.name] = nested
            continue
        raw = form.get(f.input_id)
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        if f.kind == "mapping":
            mapping: dict[str, Any] = {}
            for number, line in _lines(text):
                key, separator, value = line.partition(":")
                if not separator or not key.strip() or not value.strip():
                    errors[f.input_id] = translate(request, N_(
                        "Line %(n)s: write the key, a colon and the value, like 2026: 1200")) % {"n": number}
                    break
                mapping[key.strip()] = value.strip()
            params[f.name] = mapping
        elif f.kind == "table":
            table: dict[str, Any] = {}
            for number, line in _lines(text):
                cells = SEPARATORS.split(line)
                if len(cells) != len(f.children) + 1 or not all(cells):
                    errors[f.input_id] = translate(request, N_(
                        "Line %(n)s: write %(count)s values separated by commas: %(columns)s")) % {
                        "n": number, "count": len(f.children) + 1,
                        "columns": ", ".join([translate(request, N_("id")), *(c.label for c in f.children)])}
                    break
                table[cells[0]] = {c.name: _scalar(c, cell) for c, cell in zip(f.children, cells[1:], strict=True)}
            params[f.name] = table
        else:
            params[f.name] = _scalar(f, text)
    return params, errors


def _all_fields(fields: list[ParamField]) -> list[ParamField]:
    return [g for f in fields for g in (f, *_all_fields(f.children))]


def parameter_field(fields: list[ParamField], message: str) -> str | None:
    """The field a methodology's refusal is about: the deepest field on the path its message names
    (`parameter 'grid_factor_pin.source'`; a table's rows are one field), else a top-level
    parameter the message names, else none."""
    named = re.search(r"parameter '([^']*)'", message)
    if named:
        location = tuple(named.group(1).split("."))
        for f in sorted(_all_fields(fields), key=lambda f: -len(f.path)):
            if location[:len(f.path)] == f.path:
                return f.children[0].input_id if f.kind == "group" else f.input_id
        return None
    for f in sorted(fields, key=lambda f: -len(f.name)):
        if re.search(rf"\b{re.escape(f.name)}\b", message):
            return f.children[0].input_id if f.kind == "group" else f.input_id
    return None


def parameters_shown(fields: list[ParamField], params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label with unit, value) of every parameter a report states, for reading."""
    values = form_values(fields, params)
    return [(f.label + (f" ({f.unit})" if f.unit else ""), values[f.input_id])
            for f in _all_fields(fields) if values.get(f.input_id)]


# --- the data over the period -------------------------------------------------------------------

# A value column every interval or session methodology shares; data without one (an inventory of
# plots at two dates) is not drawn over time.
VALUE_COLUMN = "energy_kwh"
# At most this many points: days up to about a year, then weeks, then months.
MAX_POINTS = 400


@dataclass(frozen=True)
class DataBucket:
    start: date
    energy_kwh: float
    readings: int
    empty_readings: int


@dataclass(frozen=True)
class DataSummary:
    bucket: str  # day, week or month
    buckets: tuple[DataBucket, ...]
    rows: int
    assets: int


@lru_cache(maxsize=16)
def summarise_data(data_path: Path, data_filename: str, methodology_id: str, version: str,
                   timezone: str) -> DataSummary | None:
    """Energy per local day (week, month) of a stored data file, read with the methodology's own
    loader. Cached by path: a stored file is named by its SHA-256 and never changes."""
    methodology = get_methodology_or_invalid(methodology_id, version)
    schema = methodology.input_schema
    time_column = next((c.name for c in schema.columns if c.kind == "timestamp"), None)
    if time_column is None or VALUE_COLUMN not in schema.names:
        return None
    try:
        frame = load_table(data_path, schema, name=data_filename)
        days = frame[time_column].dt.tz_convert(timezone).dt.tz_localize(None).dt.floor("D")
    except (MethodologyError, KeyError, ValueError):  # KeyError: an unknown time zone
        return None
    span_days = (days.max() - days.min()).days + 1
    if span_days <= MAX_POINTS:
        bucket, keys = "day", days
    elif span_days <= 7 * MAX_POINTS:
        bucket, keys = "week", days - pd.to_timedelta(days.dt.weekday, unit="D")
    else:
        bucket, keys = "month", days.dt.to_period("M").dt.start_time
    energy = frame[VALUE_COLUMN]
    grouped = pd.DataFrame({"key": keys, "energy": energy, "empty": energy.isna()}).groupby("key").agg(
        energy=("energy", "sum"), readings=("energy", "size"), empty=("empty", "sum"))
    buckets = tuple(DataBucket(pd.Timestamp(key).date(), float(energy_kwh), int(readings), int(empty))
                    for key, energy_kwh, readings, empty in zip(grouped.index, grouped["energy"], grouped["readings"],
                                                                grouped["empty"], strict=True))
    return DataSummary(bucket, buckets, len(frame), int(frame[methodology.asset_column].nunique()))


DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})")


def finding_days(quantification: Mapping[str, Any]) -> set[date]:
    """The days the QA findings' examples name (a gap, a reading at night …)."""
    days = set()
    for finding in quantification.get("qa_findings", []):
        for example in finding.get("examples", []):
            for text in DAY.findall(example):
                try:
                    days.add(date.fromisoformat(text))
                except ValueError:
                    continue
    return days


def _bucket_end(summary: DataSummary, start: date) -> date:
    if summary.bucket == "day":
        return start
    if summary.bucket == "week":
        return start + timedelta(days=6)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def marked_buckets(summary: DataSummary, days: set[date]) -> list[bool]:
    """Buckets with empty readings or a day a finding names."""
    return [b.empty_readings > 0 or any(b.start <= d <= _bucket_end(summary, b.start) for d in days)
            for b in summary.buckets]


CHART_TITLES = {"day": N_("Energy per day, kWh"), "week": N_("Energy per week, kWh"),
                "month": N_("Energy per month, kWh")}


# --- the report as both pages show it -------------------------------------------------------------


@dataclass(frozen=True)
class QuantityRow:
    label: str
    values: list[str]  # one per vintage, then the total when there are several


@dataclass(frozen=True)
class ReportView:
    report: ReportOut
    params: dict[str, Any]
    parameters: list[tuple[str, str]]
    summary: DataSummary | None
    marked: list[bool]
    chart: Markup | None
    chart_title: str
    vintage_heads: list[str]
    vintage_rows: list[QuantityRow]
    findings: list[dict[str, Any]]
    factors: list[dict[str, Any]]
    trail: list[EventOut]
    account_id: str
    account_name: str
    verifier_name: str | None
    changes_requested_note: str | None


def _t(kg: int) -> str:
    return f"{kg / 1000:,.3f}"


def _kwh(wh: int) -> str:
    return f"{wh / 1000:,.3f}"


def _m2(m2: int) -> str:
    return f"{m2:,}"


# (label, how to read the figure from a vintage or the totals, how to show it, always shown)
QUANTITY_ROWS: list[tuple[str, Callable[[Mapping[str, Any]], int | None], Callable[[int], str], bool]] = [
    (N_("Credited energy, kWh"), lambda v: v.get("credited_energy_wh"), _kwh, False),
    (N_("Excluded energy, kWh"), lambda v: v.get("excluded_energy_wh"), _kwh, False),
    (N_("Credited area, m²"), lambda v: v.get("credited_area_m2"), _m2, False),
    (N_("Excluded area, m²"), lambda v: v.get("excluded_area_m2"), _m2, False),
    (N_("Baseline emissions, t"), lambda v: v["baseline_kg"], _t, False),
    (N_("Removals, t"), lambda v: v["removals_kg"], _t, False),
    (N_("Project emissions, t"), lambda v: v["project_kg"], _t, False),
    (N_("Leakage, t"), lambda v: v["leakage_kg"], _t, False),
    (N_("Uncertainty deduction, t"), lambda v: v["deductions"]["uncertainty_kg"], _t, False),
    (N_("Late calibration deduction, t"), lambda v: v["deductions"]["late_calibration_kg"], _t, False),
    (N_("Green certificate deduction, t"), lambda v: v["deductions"]["green_certificate_kg"], _t, False),
    (N_("Computed, t"), lambda v: v["net_reduction_kg"] + v["deductions"]["buffer_kg"], _t, True),
    (N_("To the buffer pool, t"), lambda v: v["deductions"]["buffer_kg"], _t, True),
    (N_("Net, credited to the owner, t"), lambda v: v["net_reduction_kg"], _t, True),
]


def _vintage_table(request: Request, quantification: Mapping[str, Any]) -> tuple[list[str], list[QuantityRow]]:
    vintages = list(quantification.get("vintages", []))
    several = len(vintages) > 1
    columns = [*vintages, quantification["totals"]] if several else vintages
    heads = [str(v["vintage_year"]) for v in vintages] + ([translate(request, N_("Total"))] if several else [])
    rows = [QuantityRow(translate(request, N_("Period")),
                        [f"{v['period_start'][:10]} – {v['period_end'][:10]}" for v in vintages]
                        + ([""] if several else []))]
    for label, read, show, always in QUANTITY_ROWS:
        figures = [read(v) for v in columns]
        if always or any(figure for figure in figures):
            rows.append(QuantityRow(translate(request, label), ["" if f is None else show(f) for f in figures]))
    return heads, rows


def report_view(request: Request, session: Session, report: MonitoringReport, blobs: BlobStore,
                fields: list[ParamField]) -> ReportView:
    out = verification_queries.report_out(session, report)
    params: dict[str, Any] = json.loads(report.params_json)
    try:
        summary = summarise_data(blobs.path(report.data_sha256), report.data_filename, out.methodology_id,
                                 out.methodology_version, str(params.get("timezone") or "Asia/Shanghai"))
    except UnknownBlob:  # the store lost the file: the page still shows what was quantified
        summary = None
    marked = marked_buckets(summary, finding_days(out.quantification)) if summary else []
    chart, chart_title = None, ""
    if summary is not None and summary.buckets:
        chart_title = translate(request, CHART_TITLES[summary.bucket])
        chart = charts.line_chart(chart_title, [b.start.isoformat() for b in summary.buckets],
                                  [b.energy_kwh for b in summary.buckets], "kWh", marked,
                                  translate(request, N_("empty readings or a QA finding")))
    heads, rows = _vintage_table(request, out.quantification)
    trail = verification_queries.trail(session, [report.public_id], with_notes=True)
    account = session.get(Account, report.issue_to_account_id)
    verifier = session.get(Party, report.verifier_party_id) if report.verifier_party_id else None
    asked = [e.note for e in trail if e.action == "changes requested"]
    return ReportView(
        report=out, params=params, parameters=parameters_shown(fields, params), summary=summary, marked=marked,
        chart=chart, chart_title=chart_title, vintage_heads=heads, vintage_rows=rows,
        findings=list(out.quantification.get("qa_findings", [])), factors=list(out.quantification.get("factors", [])),
        trail=trail, account_id=account.public_id if account else "", account_name=account.name if account else "",
        verifier_name=verifier.name if verifier else None,
        changes_requested_note=asked[-1] if asked and out.status == ReportStatus.CHANGES_REQUESTED else None)


def methodology_of_report(session: Session, report: MonitoringReport) -> Methodology[Any]:
    project = project_of(session, report)
    return get_methodology_or_invalid(project.methodology_id, project.methodology_version)


def data_file(db: Database, blobs: BlobStore, party: Party, report_id: str) -> FileResponse:
    """The report's data as uploaded, under its file name, for whoever may read the report."""
    with db.read() as session:
        report = get_readable_report(session, party, report_id)
    return FileResponse(blobs.path(report.data_sha256), filename=report.data_filename)


# --- forms with uploads, as both pages send them --------------------------------------------------

UPLOAD_CHUNK = 1 << 20
# Room for a form's other fields around an upload, when refusing an oversized request early.
FORM_OVERHEAD_BYTES = 1 << 20


def field_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def entered_values(form: FormData) -> dict[str, str]:
    """What the visitor typed, to put back into the form it came from."""
    return {name: value for name, value in form.items() if isinstance(value, str) and name != "csrf_token"}


def refuse_oversized(request: Request, settings: Settings) -> None:
    """Refuse an upload larger than the limit before reading it, when the request says its size."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_upload_bytes + FORM_OVERHEAD_BYTES:
        raise UploadTooLarge(f"the upload exceeds the limit of {settings.max_upload_bytes} bytes")


async def store_upload(upload: UploadFile, blobs: BlobStore, settings: Settings) -> tuple[str, int]:
    """Stream an uploaded file into the blob store, as PUT /api/v1/uploads does: (SHA-256, bytes)."""

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(UPLOAD_CHUNK):
            yield chunk

    return await blobs.put_stream(chunks(), settings.max_upload_bytes)


def chosen_file(form: FormData, name: str) -> UploadFile | None:
    upload = form.get(name)
    return upload if isinstance(upload, UploadFile) and upload.filename else None


def upload_name(upload: UploadFile) -> str:
    """The file's own name, without any folder a browser may send."""
    return PurePath((upload.filename or "").replace("\\", "/")).name
