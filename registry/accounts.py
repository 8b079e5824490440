"""Holding accounts and the registry's system accounts; who may see and use which."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, select
from sqlmodel import Session, col

from registry import errors
from registry.ids import new_public_id
from registry.ledger.entries import EntryType, append_entry
from registry.models import Account, AccountKind, Party, Role, get_by_public_id, table
from registry.parties import require_role

BUFFER_POOL_ACCOUNT = "acct_buffer_pool"
RETIREMENT_ACCOUNT = "acct_retirement"
CANCELLATION_ACCOUNT = "acct_cancellation"


def open_account(session: Session, actor: Party, name: str, holder: Party | None = None) -> Account:
    """A holding account for `holder` (default: the actor). Only a registrar opens one for another."""
    holder = holder or actor
    if holder.id != actor.id:
        require_role(actor, Role.REGISTRAR)
    if not name.strip():
        raise errors.InvalidRequest("an account needs a name")
    account = Account(public_id=new_public_id("acct"), party_id=holder.id, kind=AccountKind.HOLDING.value,
                      name=name.strip())
    session.add(account)
    session.flush()
    # Who holds an account is part of the public record: the audit checks the table against this.
    append_entry(session, EntryType.OPEN_ACCOUNT,
                 {"id": account.public_id, "party": holder.public_id, "kind": AccountKind.HOLDING.value},
                 None, account.id)
    return account


def get_account(session: Session, public_id: str) -> Account:
    return get_by_public_id(session, Account, public_id, lambda: errors.UnknownAccount(f"no account {public_id}"))


class AccountRef(Protocol):
    """What commands need of an account: an `Account` or a row of `_ACCOUNT_REFS`."""

    @property
    def id(self) -> int: ...
    @property
    def public_id(self) -> str: ...
    @property
    def party_id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...


_ACCOUNTS = table(Account)
_ACCOUNT_REFS = select(_ACCOUNTS.c.id, _ACCOUNTS.c.public_id, _ACCOUNTS.c.party_id, _ACCOUNTS.c.kind).where(
    _ACCOUNTS.c.public_id.in_(bindparam("public_ids", expanding=True))
)


def find_accounts(session: Session, public_ids: Iterable[str]) -> dict[str, AccountRef]:
    """Several accounts in one query, keyed by public id: those that exist."""
    rows = session.connection().execute(_ACCOUNT_REFS, {"public_ids": sorted(set(public_ids))}).all()
    return {row.public_id: row for row in rows}


def get_accounts(session: Session, public_ids: Iterable[str]) -> dict[str, AccountRef]:
    """Several accounts in one query, keyed by public id; raises for any that is unknown."""
    wanted = set(public_ids)
    found = find_accounts(session, wanted)
    for public_id in sorted(wanted - found.keys()):
        raise errors.UnknownAccount(f"no account {public_id}")
    return found


def require_holder(actor: Party, account: AccountRef) -> None:
    if account.party_id != actor.id:
        raise errors.NotAccountHolder(f"account {account.public_id} is not yours")


def sees_every_account(actor: Party) -> bool:
    return bool(actor.role_set & {Role.REGISTRAR.value, Role.AUDITOR.value})


def readable_accounts_query(actor: Party) -> Select[Any]:
    """Accounts the actor may see: all for registrars and auditors, else its own."""
    query = select(Account)
    if not sees_every_account(actor):
        query = query.where(col(Account.party_id) == actor.id)
    return query


def get_readable_account(session: Session, actor: Party, public_id: str) -> Account:
    account = session.execute(
        readable_accounts_query(actor).where(col(Account.public_id) == public_id)).scalar_one_or_none()
    if account is None:
        get_account(session, public_id)  # 404 for an unknown account, 403 for someone else's
        raise errors.NotAccountHolder(f"account {public_id} is not yours")
    return account
