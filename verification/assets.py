"""Assets and double counting: a meter, charger or land parcel belongs to one active project;
a registration in another programme to one project; what other programmes already credit (the
registrar's imported list) is never credited here."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from shapely.errors import GeometryTypeError
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from methodologies.plugin import AssetKind
from registry import errors
from registry.models import Party, Project, ProjectStatus, Role, pk
from registry.parties import require_role
from registry.projects import INACTIVE_PROJECT_STATUSES
from verification.errors import (
    AssetAlreadyRegistered,
    CreditedElsewhere,
    ExternalRegistrationTaken,
    MonitoringDataInvalid,
)
from verification.models import ExternalRegistration, MonitoringReport, ProjectAsset, ReportAsset, ReportStatus
from verification.trail import record_event

# Green electricity certificates may coexist with carbon-inclusion credits when the certificate-
# claimed energy is deducted; any other programme crediting the same reductions may not.
GREEN_CERTIFICATE_SCHEME = "GEC"
# Parcels that share only a boundary do not overlap; this much shared area (in square degrees,
# about 1 m² at these latitudes) does.
OVERLAP_TOLERANCE_DEG2 = 1e-10


MAX_IDENTIFIER_CHARS = 120


def identifier_key(identifier: str) -> str:
    """What makes two identifiers the same asset: Unicode NFKC (full-width ＳＨ－１ is SH-1), no
    surrounding spaces, case-folded. Uniqueness, in the service and in the database, compares keys."""
    key = unicodedata.normalize("NFKC", identifier).strip().casefold()
    if not key:
        raise errors.InvalidRequest("an identifier cannot be empty")
    if len(key) > MAX_IDENTIFIER_CHARS:
        raise errors.InvalidRequest(f"identifier {identifier[:40]!r}… is longer than {MAX_IDENTIFIER_CHARS} characters")
    return key


@dataclass(frozen=True)
class AssetSpec:
    kind: AssetKind
    identifier: str
    area_m2: int | None = None
    geometry: dict[str, Any] | None = None  # parcels: a GeoJSON Polygon in lon/lat


@dataclass(frozen=True)
class ExternalSpec:
    scheme: str
    identifier: str


def add_assets(session: Session, actor: Party, project: Project, assets: list[AssetSpec]) -> None:
    if project.owner_party_id != actor.id:
        require_role(actor, Role.REGISTRAR)
    if project.status not in (ProjectStatus.DRAFT, ProjectStatus.CHANGES_REQUESTED):
        raise errors.InvalidProjectTransition(f"assets are added while a project is a draft, not {project.status}")
    seen: dict[tuple[str, str], str] = {}
    shapes_added: list[BaseGeometry] = []
    for asset in assets:
        identifier = asset.identifier.strip()
        key = identifier_key(identifier)
        if (asset.kind, key) in seen:
            raise errors.InvalidRequest(f"asset {identifier!r} is listed twice (as {seen[asset.kind, key]!r})")
        seen[asset.kind, key] = identifier
        geometry: dict[str, Any] = {}
        if asset.kind == AssetKind.PARCEL:
            if not asset.area_m2:
                raise errors.InvalidRequest(f"parcel {identifier} needs its area_m2")
            polygon = _parcel_shape(asset)
            _check_parcel_overlap(session, identifier, polygon)
            for other in shapes_added:
                if polygon.intersection(other).area > OVERLAP_TOLERANCE_DEG2:
                    raise errors.InvalidRequest(f"parcel {identifier} overlaps another parcel of this request")
            shapes_added.append(polygon)
            min_lon, min_lat, max_lon, max_lat = polygon.bounds
            geometry = {"geometry": json.dumps(mapping(polygon)), "min_lon": min_lon, "min_lat": min_lat,
                        "max_lon": max_lon, "max_lat": max_lat}
        imported = session.execute(select(col(ExternalRegistration.scheme), col(ExternalRegistration.note)).where(
            col(ExternalRegistration.project_id).is_(None), col(ExternalRegistration.asset_kind) == asset.kind.value,
            col(ExternalRegistration.identifier_key) == key)).first()
        if imported is not None:
            raise CreditedElsewhere(
                f"{asset.kind.value} {identifier} is credited under {imported.scheme} (registrar's imported list"
                f"{': ' + imported.note if imported.note else ''})")
        holder = session.execute(
            select(col(Project.public_id), col(Project.name), col(ProjectAsset.identifier))
            .join(ProjectAsset, col(ProjectAsset.project_id) == Project.id)
            .where(col(ProjectAsset.kind) == asset.kind.value, col(ProjectAsset.identifier_key) == key,
                   col(ProjectAsset.active))
        ).first()
        if holder is not None:
            raise AssetAlreadyRegistered(
                f"{asset.kind.value} {identifier} is already in active project {holder.public_id} ({holder.name})"
                + (f" as {holder.identifier}" if holder.identifier != identifier else ""))
        # The partial unique index refuses a racing duplicate even if this check passed.
        session.add(ProjectAsset(project_id=pk(project), kind=asset.kind.value, identifier=identifier,
                                 identifier_key=key, area_m2=asset.area_m2, **geometry))
    session.flush()
    if assets:
        record_event(session, project.public_id, actor, "assets added",
                     note=", ".join(f"{kind} {identifier}" for (kind, _), identifier in seen.items()))


def release_assets(session: Session, project: Project) -> None:
    """A project that ends frees its meters, chargers and parcels for another project."""
    session.execute(update(ProjectAsset).where(col(ProjectAsset.project_id) == project.id).values(active=False))


def _parcel_shape(asset: AssetSpec) -> BaseGeometry:
    if asset.geometry is None:
        raise errors.InvalidRequest(f"parcel {asset.identifier} needs its boundary (a GeoJSON Polygon)")
    try:
        polygon = shape(asset.geometry)
    except (GeometryTypeError, ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidRequest(f"parcel {asset.identifier}: not a GeoJSON geometry ({exc})") from exc
    if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid or polygon.area == 0:
        raise errors.InvalidRequest(f"parcel {asset.identifier}: the boundary must be a valid, non-empty polygon")
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    if not (max(abs(min_lon), abs(max_lon)) <= 180 and max(abs(min_lat), abs(max_lat)) <= 90):
        raise errors.InvalidRequest(f"parcel {asset.identifier}: coordinates are lon/lat in degrees (WGS 84)")
    return polygon


def _check_parcel_overlap(session: Session, identifier: str, polygon: BaseGeometry) -> None:
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    candidates = session.execute(
        select(col(ProjectAsset.identifier), col(ProjectAsset.geometry), col(Project.public_id))
        .join(Project, col(Project.id) == ProjectAsset.project_id)
        .where(col(ProjectAsset.kind) == AssetKind.PARCEL.value, col(ProjectAsset.active),
               col(ProjectAsset.min_lon) <= max_lon, col(ProjectAsset.max_lon) >= min_lon,
               col(ProjectAsset.min_lat) <= max_lat, col(ProjectAsset.max_lat) >= min_lat)
    ).all()
    for other, geometry, holder in candidates:
        if polygon.intersection(shape(json.loads(geometry))).area > OVERLAP_TOLERANCE_DEG2:
            raise AssetAlreadyRegistered(f"parcel {identifier} overlaps parcel {other} of active project {holder}")


# --- registrations in other programmes --------------------------------------------------------


def declare_external(session: Session, project: Project, registrations: list[ExternalSpec]) -> None:
    for registration in registrations:
        scheme, identifier = registration.scheme.strip().upper(), registration.identifier.strip()
        if not scheme:
            raise errors.InvalidRequest("an external registration names its scheme and identifier")
        key = identifier_key(identifier)
        rows = session.execute(
            select(ExternalRegistration, col(Project.public_id), col(Project.status))
            .outerjoin(Project, col(Project.id) == ExternalRegistration.project_id)
            .where(col(ExternalRegistration.scheme) == scheme, col(ExternalRegistration.identifier_key) == key)
        ).all()
        for existing, holder, status in rows:
            if existing.project_id is not None and status not in INACTIVE_PROJECT_STATUSES:
                raise ExternalRegistrationTaken(f"{scheme} {identifier} is already declared by active project {holder}")
            if existing.project_id is None and scheme != GREEN_CERTIFICATE_SCHEME:
                raise CreditedElsewhere(
                    f"{scheme} {identifier} already credits these reductions (registrar's imported list"
                    f"{': ' + existing.note if existing.note else ''}); they cannot be credited twice")
        session.add(ExternalRegistration(scheme=scheme, identifier=identifier, identifier_key=key,
                                         project_id=project.id))


def import_external_registrations(session: Session, registrar: Party,
                                  entries: list[tuple[str, str, str, str]]) -> int:
    """The registrar's list of what other programmes credit: (scheme, identifier, what it is, note),
    where `what` is `project` or an asset kind. Returns how many were new."""
    require_role(registrar, Role.REGISTRAR)
    added = 0
    for scheme, identifier, what, note in entries:
        if what != "project" and what not in {k.value for k in AssetKind}:
            raise errors.InvalidRequest(f"{scheme} {identifier}: 'asset_kind' is project, meter, charger or parcel")
        key = identifier_key(identifier)
        known = session.execute(select(col(ExternalRegistration.id)).where(
            col(ExternalRegistration.scheme) == scheme.upper(), col(ExternalRegistration.identifier_key) == key,
            col(ExternalRegistration.project_id).is_(None))).first()
        if known is None:
            session.add(ExternalRegistration(scheme=scheme.upper(), identifier=identifier.strip(), identifier_key=key,
                                             asset_kind=what, note=note))
            added += 1
    record_event(session, "external-registrations", registrar, "imported", note=f"{added} new of {len(entries)}")
    return added


def green_certificates(session: Session, project: Project) -> list[str]:
    """The green electricity certificates (GEC) the project declared."""
    return list(session.execute(select(col(ExternalRegistration.identifier)).where(
        col(ExternalRegistration.project_id) == project.id,
        col(ExternalRegistration.scheme) == GREEN_CERTIFICATE_SCHEME)).scalars().all())


# --- what a report's data may name ---------------------------------------------------------------


def check_report_assets(session: Session, project: Project, kind: AssetKind, identifiers: Iterable[str],
                        period_start: date, period_end: date, report_id: int | None = None) -> set[str]:
    """The keys of the assets the data names, once each is shown to be the project's own active
    asset and in no other project's report for an overlapping period. Refusals name them all."""
    keys: dict[str, str] = {}
    for identifier in sorted(set(identifiers)):
        key = identifier_key(identifier)
        if key in keys:  # one meter written two ways would be quantified as two meters
            raise MonitoringDataInvalid(
                f"the data names {keys[key]!r} and {identifier!r}, the same {kind.value} written two ways; "
                "write it one way")
        keys[key] = identifier
    own = set(session.execute(select(col(ProjectAsset.identifier_key)).where(
        col(ProjectAsset.project_id) == project.id, col(ProjectAsset.kind) == kind.value,
        col(ProjectAsset.active))).scalars())
    foreign = sorted(identifier for key, identifier in keys.items() if key not in own)
    if foreign:
        raise MonitoringDataInvalid(
            f"the data names {kind.value}s that are not active assets of project {project.public_id}: "
            f"{', '.join(foreign[:20])}{' …' if len(foreign) > 20 else ''}; register them first")
    clashes = session.execute(
        select(col(ReportAsset.identifier_key), col(MonitoringReport.public_id), col(MonitoringReport.period_start),
               col(MonitoringReport.period_end))
        .join(MonitoringReport, col(MonitoringReport.id) == col(ReportAsset.report_id))
        .where(col(ReportAsset.kind) == kind.value, col(ReportAsset.identifier_key).in_(sorted(keys)),
               col(MonitoringReport.status) != ReportStatus.REJECTED.value,
               col(MonitoringReport.period_start) <= period_end, col(MonitoringReport.period_end) >= period_start,
               col(MonitoringReport.id) != (report_id or -1))
    ).all()
    if clashes:
        named = ", ".join(f"{keys[key]} in report {report} ({start} to {end})"
                          for key, report, start, end in clashes[:20])
        raise MonitoringDataInvalid(f"these {kind.value}s are already reported for part of this period: {named}")
    return set(keys)


def record_report_assets(session: Session, report_id: int, kind: AssetKind, keys: set[str]) -> None:
    session.execute(delete(ReportAsset).where(col(ReportAsset.report_id) == report_id))
    session.add_all(ReportAsset(report_id=report_id, kind=kind.value, identifier_key=key) for key in sorted(keys))
