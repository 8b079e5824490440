"""After every trading test, whatever it did: credits and cash are conserved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from registry.db import Database
from registry.ledger.audit import AuditReport
from registry.models import CreditBlock, Issuance
from trading.cash import audit_cash


@pytest.fixture(autouse=True)
def conserved(request: pytest.FixtureRequest) -> Iterator[None]:
    # Asked for before the test runs, so that the database outlives this check.
    db: Database | None = request.getfixturevalue("db") if "db" in request.fixturenames else None
    yield
    if db is None:
        return
    with db.snapshot() as s:
        issued = dict(s.execute(select(Issuance.id, Issuance.quantity_kg)).all())
        held = dict(s.execute(select(CreditBlock.issuance_id, func.sum(CreditBlock.quantity_kg))
                              .group_by(CreditBlock.issuance_id)).all())
        assert {key: int(value) for key, value in held.items()} == issued, "credits were made or lost"
        report = AuditReport()
        audit_cash(s, report)
        assert report.problems == [], report.problems
