"""The audit's verification half: every signed statement, report figure and issuance agree.

Run after `registry.ledger.audit.audit` on the same snapshot (`cir audit` does both). Trusts the
verifiers' public keys as accredited, and nothing else stored: a statement must verify with its
verifier's key and hash to what the issuances carry; a report's figure must be the one its
quantification computed and its verifier signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from registry.accounts import BUFFER_POOL_ACCOUNT
from registry.ledger.audit import AuditReport
from registry.models import Account, Issuance
from verification.flows import buffer_share_of_signed
from verification.models import MonitoringReport, ReportStatus, VerificationStatement, VerifierAccreditation
from verification.statements import BadSignature, verify_statement_signature


def audit_verification(session: Session, report: AuditReport) -> None:
    reports = {r.id: r for r in session.execute(select(MonitoringReport)).scalars()}
    keys = dict(session.execute(select(col(VerifierAccreditation.id), col(VerifierAccreditation.public_key))).all())
    buffer_account = session.execute(
        select(col(Account.id)).where(col(Account.public_id) == BUFFER_POOL_ACCOUNT)).scalar_one()
    issued: dict[str, dict[tuple[int, bool], int]] = defaultdict(lambda: defaultdict(int))
    for statement_hash, vintage, quantity, account_id in session.execute(
            select(col(Issuance.verification_statement_sha256), col(Issuance.vintage), col(Issuance.quantity_kg),
                   col(Issuance.account_id)).where(col(Issuance.verification_statement_sha256).is_not(None))):
        issued[statement_hash][vintage, account_id == buffer_account] += quantity
    statements: set[str] = set()
    for row in session.execute(select(VerificationStatement)).scalars():
        statements.add(row.sha256)
        report_row = reports.get(row.report_id)
        where = f"statement {row.sha256[:12]}…"
        if hashlib.sha256(bytes(row.statement)).hexdigest() != row.sha256:
            report.problems.append(f"{where}: its bytes do not hash to its recorded SHA-256")
            continue
        statement = json.loads(row.statement)
        try:
            verify_statement_signature(keys[row.accreditation_id], statement,
                                       base64.b64encode(bytes(row.signature)).decode())
        except (BadSignature, KeyError):
            report.problems.append(f"{where}: the signature does not verify with its verifier's accredited key")
        if report_row is None or statement.get("report") != report_row.public_id:
            report.problems.append(f"{where}: it names report {statement.get('report')}, not the one it is filed with")
            continue
        if sum(statement["verified_kg"].values()) != row.verified_kg:
            report.problems.append(f"{where}: verified_kg adds up to another figure than recorded")
        if statement.get("revision") == report_row.revision \
                and sum(statement["computed_kg"].values()) != report_row.net_reduction_kg:
            report.problems.append(f"report {report_row.public_id}: net {report_row.net_reduction_kg} kg, but its "
                                   f"verifier signed {sum(statement['computed_kg'].values())} kg computed")
        if report_row.status == ReportStatus.ISSUED:
            _check_issued(statement, row.sha256, report_row, issued.get(row.sha256, {}), report)
    for report_row in reports.values():
        quantified = json.loads(report_row.quantification_json)["totals"]["net_reduction_kg"]
        if quantified != report_row.net_reduction_kg:
            report.problems.append(f"report {report_row.public_id}: net {report_row.net_reduction_kg} kg, but its "
                                   f"quantification says {quantified} kg")
    for statement_hash in issued.keys() - statements:
        report.problems.append(f"issuances cite statement {statement_hash[:12]}…, which the registry does not hold")


def _check_issued(statement: dict[str, Any], statement_hash: str, report_row: MonitoringReport,
                  issued: dict[tuple[int, bool], int], report: AuditReport) -> None:
    """The credits of an issued report are exactly what its statement signed, and the buffer share."""
    verified, computed = statement["verified_kg"], statement["computed_kg"]
    buffers = {str(v["vintage_year"]): v["deductions"]["buffer_kg"]
               for v in json.loads(report_row.quantification_json)["vintages"]}
    expected = {}
    for vintage, quantity in verified.items():
        expected[int(vintage), False] = quantity
        expected[int(vintage), True] = buffer_share_of_signed(buffers.get(vintage, 0), computed[vintage], quantity)
    if {k: v for k, v in expected.items() if v} != {k: v for k, v in issued.items() if v}:
        report.problems.append(f"report {report_row.public_id}: the credits issued under statement "
                               f"{statement_hash[:12]}… are not what it signed")
