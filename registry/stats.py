"""The registry at a glance: issued, retired, cancelled, held and in the buffer pool, by
methodology, region of origin, vintage and month; cross-regional retirements counted apart.

A retirement is cross-regional when the party that retired the credits is in another region than
the project they come from (parties without a region are not counted as cross-regional). Block
figures are one grouped query; issuance and retirement dates are read once for the months.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlmodel import Session, col

from registry import schemas
from registry.models import Account, AccountKind, BlockStatus, CreditBlock, Issuance, Party, Project, Retirement

FIGURES = ("issued_kg", "retired_kg", "retired_cross_regional_kg", "cancelled_kg", "held_kg", "buffer_pool_kg")
Tally = dict[str, int]


def _cross_regional() -> Any:
    return and_(col(Party.region).is_not(None), col(Party.region) != col(Project.region))


def registry_stats(session: Session) -> schemas.StatsOut:
    groups: dict[str, dict[Any, Tally]] = {name: defaultdict(lambda: dict.fromkeys(FIGURES, 0))
                                           for name in ("methodology", "region", "vintage", "month")}
    totals: Tally = dict.fromkeys(FIGURES, 0)

    def add(keys: dict[str, Any], figure: str, kg: int) -> None:
        totals[figure] += kg
        for name, key in keys.items():
            groups[name][key][figure] += kg

    cross = case((_cross_regional(), 1), else_=0)
    blocks = session.execute(
        select(col(Project.methodology_id), col(Project.region), col(CreditBlock.vintage), col(CreditBlock.status),
               col(Account.kind), cross.label("cross"), func.sum(col(CreditBlock.quantity_kg)))
        .join(Project, col(Project.id) == col(CreditBlock.project_id))
        .join(Account, col(Account.id) == col(CreditBlock.account_id))
        .outerjoin(Retirement, col(Retirement.id) == col(CreditBlock.retirement_id))
        .outerjoin(Party, col(Party.id) == col(Retirement.party_id))
        .group_by(col(Project.methodology_id), col(Project.region), col(CreditBlock.vintage),
                  col(CreditBlock.status), col(Account.kind), cross)
    ).all()
    for methodology, region, vintage, status, account_kind, is_cross, kg in blocks:
        keys = {"methodology": methodology, "region": region, "vintage": vintage}
        kg = int(kg)
        if status == BlockStatus.RETIRED:
            add(keys, "retired_kg", kg)
            if is_cross:
                add(keys, "retired_cross_regional_kg", kg)
        elif status == BlockStatus.CANCELLED:
            add(keys, "cancelled_kg", kg)
        elif account_kind == AccountKind.BUFFER:
            add(keys, "buffer_pool_kg", kg)
        else:
            add(keys, "held_kg", kg)
    for methodology, region, vintage, issued_at, kg in session.execute(
            select(col(Project.methodology_id), col(Project.region), col(Issuance.vintage), col(Issuance.issued_at),
                   col(Issuance.quantity_kg)).join(Project, col(Project.id) == col(Issuance.project_id))):
        add({"methodology": methodology, "region": region, "vintage": vintage, "month": issued_at.strftime("%Y-%m")},
            "issued_kg", int(kg))
    retired_by_month = session.execute(
        select(col(Retirement.retired_at), cross.label("cross"), func.sum(col(CreditBlock.quantity_kg)))
        .join(CreditBlock, col(CreditBlock.retirement_id) == col(Retirement.id))
        .join(Project, col(Project.id) == col(CreditBlock.project_id))
        .join(Party, col(Party.id) == col(Retirement.party_id))
        .group_by(col(Retirement.id), col(Retirement.retired_at), cross)
    ).all()
    for retired_at, is_cross, kg in retired_by_month:
        month = groups["month"][retired_at.strftime("%Y-%m")]
        month["retired_kg"] += int(kg)
        if is_cross:
            month["retired_cross_regional_kg"] += int(kg)
    retirements = session.execute(select(func.count()).select_from(Retirement)).scalar_one()
    cross_regional = session.execute(
        select(func.count(distinct(col(Retirement.id))))
        .join(CreditBlock, col(CreditBlock.retirement_id) == col(Retirement.id))
        .join(Project, col(Project.id) == col(CreditBlock.project_id))
        .join(Party, col(Party.id) == col(Retirement.party_id))
        .where(_cross_regional())).scalar_one()

    def rows(name: str, order: Callable[[Any], Any] = str) -> list[schemas.StatsRow]:
        ordered = sorted(groups[name].items(), key=lambda item: order(item[0]))
        return [schemas.StatsRow(key=key, **tally) for key, tally in ordered]

    return schemas.StatsOut(
        totals=schemas.StatsRow(key="all", **totals), by_methodology=rows("methodology"), by_region=rows("region"),
        by_vintage=rows("vintage", int), by_month=rows("month"), retirements=retirements,
        cross_regional_retirements=cross_regional,
    )
