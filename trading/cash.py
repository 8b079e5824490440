"""Market cash: one account per party, in integer fen, kept as a double-entry journal.

Every movement is one `CashEntry` whose `CashLine`s sum to zero, written by `post` together with
the balance changes they explain. A balance update is conditional on the result staying at or above
zero (of two requests spending the same cash, one finds it gone), and the database's CHECK backs it.
The settlement bank (a party with the `bank` role) confirms deposits and pays out withdrawals, each
with its own reference, used once. `audit_cash` replays the journal against the balances.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlmodel import Session, col

from registry.errors import PermissionDenied
from registry.ids import new_public_id
from registry.ledger.audit import AuditReport
from registry.models import MAX_QUANTITY_KG, Party, Role, get_by_public_id, pk, refresh_loaded, rows_changed
from registry.parties import require_role
from trading.errors import (
    BankReferenceUsed,
    CashAccountClosed,
    CashAccountExists,
    InsufficientCash,
    InvalidAmount,
    UnknownCashAccount,
    UnknownWithdrawal,
    WithdrawalNotRequested,
)
from trading.models import CashAccount, CashAccountKind, CashEntry, CashHold, CashLine, Withdrawal, WithdrawalStatus

FEES_ACCOUNT = "cash_market_fees"
CLEARING_ACCOUNT = "cash_clearing"
AVAILABLE, HELD = "available", "held"
# A trillion yuan: more than any market moves, less than 2^53 so that JSON carries it exactly.
MAX_AMOUNT_FEN = 100 * MAX_QUANTITY_KG


@dataclass(frozen=True)
class Line:
    account_id: int
    bucket: str  # AVAILABLE or HELD
    amount_fen: int  # + credits the bucket, − debits it


def validate_amount(amount_fen: object) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidAmount("amounts are whole numbers of fen (0.01 yuan)")
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise InvalidAmount(f"an amount is from 1 to {MAX_AMOUNT_FEN:,} fen")
    return amount_fen


def post(session: Session, kind: str, reference: str, lines: list[Line], bank_reference: str | None = None,
         ) -> CashEntry:
    """Write one balanced entry and apply its lines to the balances: one conditional update per
    account, in id order (a fixed lock order). A line that would take a balance below zero refuses
    the whole entry."""
    if sum(line.amount_fen for line in lines) != 0:
        raise AssertionError(f"unbalanced cash entry {kind} {reference}")
    entry = CashEntry(public_id=new_public_id("cjn"), kind=kind, reference=reference, bank_reference=bank_reference)
    session.add(entry)
    session.flush()
    changes: dict[int, dict[str, int]] = defaultdict(lambda: {AVAILABLE: 0, HELD: 0})
    for line in lines:
        changes[line.account_id][line.bucket] += line.amount_fen
    for account_id in sorted(changes):
        _change_balances(session, account_id, changes[account_id])
    session.execute(insert(CashLine), [
        {"entry_id": pk(entry), "account_id": line.account_id, "bucket": line.bucket, "amount_fen": line.amount_fen}
        for line in lines if line.amount_fen])
    return entry


def _change_balances(session: Session, account_id: int, deltas: dict[str, int]) -> None:
    columns = {AVAILABLE: col(CashAccount.available_fen), HELD: col(CashAccount.held_fen)}
    guard = [col(CashAccount.id) == account_id, col(CashAccount.status) == "open"]
    values = {}
    for bucket, delta in deltas.items():
        if delta:
            values[f"{bucket}_fen"] = columns[bucket] + delta
        if delta < 0:
            guard.append((columns[bucket] + delta >= 0) | (col(CashAccount.kind) == CashAccountKind.CLEARING.value))
    if not values:
        return
    changed = session.execute(update(CashAccount).where(*guard).values(**values)
                              .returning(col(CashAccount.available_fen), col(CashAccount.held_fen))
                              .execution_options(synchronize_session=False)).one_or_none()
    if changed is not None:
        refresh_loaded(session, CashAccount, account_id, changed._asdict())
        return
    account = session.get(CashAccount, account_id, populate_existing=True)
    if account is None:
        raise AssertionError(f"no cash account {account_id}")
    if account.status != "open":
        raise CashAccountClosed(f"cash account {account.public_id} is closed")
    short = [b for b, delta in deltas.items() if delta < 0 and getattr(account, f"{b}_fen") + delta < 0]
    bucket = short[0] if short else min(deltas, key=lambda b: deltas[b])  # a race may have refilled it since
    what = "free" if bucket == AVAILABLE else "held"
    raise InsufficientCash(f"cash account {account.public_id} has less {what} cash than the {-deltas[bucket]:,} fen "
                           "this needs")


# --- accounts -----------------------------------------------------------------------------------


def open_cash_account(session: Session, party: Party) -> CashAccount:
    """A party's market cash account; one each (the unique party id backs the check)."""
    if session.execute(select(col(CashAccount.id)).where(col(CashAccount.party_id) == party.id)).first():
        raise CashAccountExists(f"{party.name} already has a market cash account")
    account = CashAccount(public_id=new_public_id("cash"), party_id=pk(party), kind=CashAccountKind.PARTY.value)
    session.add(account)
    session.flush()
    return account


def close_cash_account(session: Session, party: Party) -> CashAccount:
    """Close the party's cash account once it holds nothing: no deposit, trade or withdrawal reaches
    it after. A conditional update, so that money arriving meanwhile keeps it open."""
    account = cash_account_of(session, party)
    result = session.execute(update(CashAccount).where(
        col(CashAccount.id) == account.id, col(CashAccount.status) == "open", col(CashAccount.available_fen) == 0,
        col(CashAccount.held_fen) == 0).values(status="closed"))
    if rows_changed(result) != 1:
        session.refresh(account)
        if account.status != "open":
            raise CashAccountClosed(f"cash account {account.public_id} is already closed")
        raise InsufficientCash(f"cash account {account.public_id} still holds {account.available_fen:,} fen free and "
                               f"{account.held_fen:,} held: withdraw it first")
    session.refresh(account)
    return account


def get_cash_account(session: Session, public_id: str) -> CashAccount:
    return get_by_public_id(session, CashAccount, public_id,
                            lambda: UnknownCashAccount(f"no cash account {public_id}"))


def cash_account_of(session: Session, party: Party) -> CashAccount:
    account = session.execute(select(CashAccount).where(col(CashAccount.party_id) == party.id)).scalar_one_or_none()
    if account is None:
        raise UnknownCashAccount(f"{party.name} has no market cash account: open one first")
    return account


def settlement_accounts(session: Session, payer: Party, payee: Party) -> tuple[CashAccount, CashAccount, CashAccount]:
    """The payer's and the payee's cash accounts and the market's fee account, in one query: a trade's
    settlement reads them while the product's matching lock may be held."""
    found = session.execute(select(CashAccount).where(
        col(CashAccount.party_id).in_([payer.id, payee.id]) | (col(CashAccount.public_id) == FEES_ACCOUNT))
    ).scalars().all()
    by_party = {account.party_id: account for account in found}
    for party in (payer, payee):
        if party.id not in by_party:
            raise UnknownCashAccount(f"{party.name} has no market cash account: open one first")
    return by_party[payer.id], by_party[payee.id], by_party[None]


def system_account(session: Session, public_id: str) -> CashAccount:
    return get_cash_account(session, public_id)


def get_readable_cash_account(session: Session, reader: Party, public_id: str) -> CashAccount:
    """Its holder, the bank, the registrar and auditors read a cash account; to others it does not exist."""
    account = get_cash_account(session, public_id)
    insiders = {Role.BANK.value, Role.REGISTRAR.value, Role.AUDITOR.value}
    if account.party_id != reader.id and not reader.role_set & insiders:
        raise UnknownCashAccount(f"no cash account {public_id}")
    return account


# --- the settlement bank's confirmations ------------------------------------------------------------


def _unused(session: Session, bank_reference: str) -> str:
    reference = bank_reference.strip()
    if not reference:
        raise InvalidAmount("give the bank's reference of the transfer")
    if session.execute(select(col(CashEntry.id)).where(col(CashEntry.bank_reference) == reference)).first():
        raise BankReferenceUsed(f"bank reference {reference} was already confirmed")
    return reference


def confirm_deposit(session: Session, bank: Party, account_public_id: str, amount_fen: int,
                    bank_reference: str) -> CashEntry:
    """The settlement bank confirms money received for a party's account."""
    require_role(bank, Role.BANK)
    account = get_cash_account(session, account_public_id)
    if account.kind != CashAccountKind.PARTY:
        raise UnknownCashAccount(f"{account_public_id} is not a party's cash account")
    amount = validate_amount(amount_fen)
    clearing = system_account(session, CLEARING_ACCOUNT)
    return post(session, "deposit", account.public_id, [Line(pk(clearing), AVAILABLE, -amount),
                                                         Line(pk(account), AVAILABLE, amount)],
                _unused(session, bank_reference))


def request_withdrawal(session: Session, party: Party, amount_fen: int) -> Withdrawal:
    """Hold free cash until the bank pays it out (or the request is cancelled)."""
    account = cash_account_of(session, party)
    amount = validate_amount(amount_fen)
    withdrawal = Withdrawal(public_id=new_public_id("wdr"), account_id=pk(account), amount_fen=amount)
    session.add(withdrawal)
    session.flush()
    post(session, "withdrawal_requested", withdrawal.public_id, [Line(pk(account), AVAILABLE, -amount),
                                                                 Line(pk(account), HELD, amount)])
    return withdrawal


def get_withdrawal(session: Session, public_id: str) -> Withdrawal:
    return get_by_public_id(session, Withdrawal, public_id, lambda: UnknownWithdrawal(f"no withdrawal {public_id}"))


def _close_withdrawal(session: Session, withdrawal: Withdrawal, status: WithdrawalStatus, **values: object) -> None:
    """Only one of two racing decisions wins: the update is conditional on `requested`."""
    result = session.execute(update(Withdrawal).where(
        col(Withdrawal.id) == withdrawal.id, col(Withdrawal.status) == WithdrawalStatus.REQUESTED.value)
        .values(status=status.value, decided_at=datetime.now(UTC), **values))
    if rows_changed(result) != 1:
        raise WithdrawalNotRequested(f"withdrawal {withdrawal.public_id} is {withdrawal.status}, not requested")
    session.refresh(withdrawal)


def pay_withdrawal(session: Session, bank: Party, withdrawal: Withdrawal, bank_reference: str) -> Withdrawal:
    require_role(bank, Role.BANK)
    reference = _unused(session, bank_reference)
    _close_withdrawal(session, withdrawal, WithdrawalStatus.PAID, bank_reference=reference)
    clearing = system_account(session, CLEARING_ACCOUNT)
    post(session, "withdrawal_paid", withdrawal.public_id, [Line(withdrawal.account_id, HELD, -withdrawal.amount_fen),
                                                            Line(pk(clearing), AVAILABLE, withdrawal.amount_fen)],
         reference)
    return withdrawal


def cancel_withdrawal(session: Session, actor: Party, withdrawal: Withdrawal, reason: str) -> Withdrawal:
    """The party withdraws its request, or the bank declines it: the cash is free again."""
    account = session.get(CashAccount, withdrawal.account_id)
    if account is None or (account.party_id != actor.id and Role.BANK.value not in actor.role_set):
        raise PermissionDenied(f"withdrawal {withdrawal.public_id} is not yours")
    _close_withdrawal(session, withdrawal, WithdrawalStatus.CANCELLED, reason=reason.strip())
    post(session, "withdrawal_cancelled", withdrawal.public_id, [
        Line(withdrawal.account_id, HELD, -withdrawal.amount_fen),
        Line(withdrawal.account_id, AVAILABLE, withdrawal.amount_fen)])
    return withdrawal


# --- holds: cash a buy order or an auction bid reserves --------------------------------------------


def hold_cash(session: Session, account: CashAccount, reference: str, amount_fen: int) -> CashHold:
    """Move free cash to held for `reference` (an order or a bid)."""
    post(session, "hold", reference, [Line(pk(account), AVAILABLE, -amount_fen), Line(pk(account), HELD, amount_fen)])
    held = CashHold(reference=reference, account_id=pk(account), amount_fen=amount_fen)
    session.add(held)
    session.flush()
    return held


def get_hold(session: Session, reference: str) -> CashHold | None:
    return session.execute(select(CashHold).where(col(CashHold.reference) == reference)).scalar_one_or_none()


def _existing_hold(session: Session, reference: str) -> CashHold:
    held = get_hold(session, reference)
    if held is None:
        raise AssertionError(f"no cash is held for {reference}")
    return held


def _set_hold(session: Session, held: CashHold, amount_fen: int) -> None:
    """Conditional on the amount read: two commands never both spend or release one hold."""
    result = session.execute(update(CashHold).where(col(CashHold.id) == held.id,
                                                    col(CashHold.amount_fen) == held.amount_fen)
                             .values(amount_fen=amount_fen).execution_options(synchronize_session=False))
    if rows_changed(result) != 1:
        raise AssertionError(f"the cash held for {held.reference} changed meanwhile")
    refresh_loaded(session, CashHold, pk(held), {"amount_fen": amount_fen})


def resize_hold(session: Session, reference: str, amount_fen: int) -> CashHold:
    """Hold exactly `amount_fen` for `reference` now: more from the free balance, or the excess back."""
    held = _existing_hold(session, reference)
    delta = amount_fen - held.amount_fen
    if delta:
        post(session, "hold" if delta > 0 else "hold_released", reference,
             [Line(held.account_id, AVAILABLE, -delta), Line(held.account_id, HELD, delta)])
        _set_hold(session, held, amount_fen)
    return held


def release_hold(session: Session, reference: str) -> int:
    """Return whatever is still held for `reference`, if anything, to the free balance; returns the amount."""
    held = get_hold(session, reference)
    if held is None:
        return 0
    amount = held.amount_fen
    resize_hold(session, reference, 0)
    return amount


def spend_from_hold(session: Session, reference: str, spent_fen: int, keep_fen: int = 0) -> list[Line]:
    """Pay `spent_fen` from the hold and keep `keep_fen` of it held, what the order or bid still needs;
    the rest is freed. Returns the payer's lines for the caller's entry: held cash out, the freed part
    back to the free balance, so that one trade is one entry."""
    held = _existing_hold(session, reference)
    freed = held.amount_fen - spent_fen - keep_fen
    if freed < 0:
        raise AssertionError(f"the {held.amount_fen} fen held for {reference} do not cover {spent_fen} + {keep_fen}")
    _set_hold(session, held, keep_fen)
    return [Line(held.account_id, HELD, -(spent_fen + freed)), Line(held.account_id, AVAILABLE, freed)]


# --- the audit --------------------------------------------------------------------------------------


def audit_cash(session: Session, report: AuditReport) -> None:
    """Cash is conserved: every entry balances, every balance is the sum of its lines, held cash is what
    open orders, bids and withdrawals reserve, and deposits − paid withdrawals = what parties hold
    (free and held) + the market's fees."""
    unbalanced = session.execute(select(col(CashLine.entry_id)).group_by(col(CashLine.entry_id))
                                 .having(func.sum(col(CashLine.amount_fen)) != 0)).scalars().all()
    for entry_id in unbalanced:
        report.problems.append(f"cash entry {entry_id} does not balance")
    sums = {(account_id, bucket): int(total) for account_id, bucket, total in session.execute(
        select(col(CashLine.account_id), col(CashLine.bucket), func.sum(col(CashLine.amount_fen)))
        .group_by(col(CashLine.account_id), col(CashLine.bucket)))}
    reserved: dict[int, int] = {account_id: int(total) for account_id, total in session.execute(
        select(col(CashHold.account_id), func.sum(col(CashHold.amount_fen))).group_by(col(CashHold.account_id)))}
    for account_id, total in session.execute(
            select(col(Withdrawal.account_id), func.sum(col(Withdrawal.amount_fen)))
            .where(col(Withdrawal.status) == WithdrawalStatus.REQUESTED.value).group_by(col(Withdrawal.account_id))):
        reserved[account_id] = reserved.get(account_id, 0) + int(total)
    held_total = 0
    for account in session.execute(select(CashAccount)).scalars():
        available, held = sums.get((pk(account), AVAILABLE), 0), sums.get((pk(account), HELD), 0)
        if (available, held) != (account.available_fen, account.held_fen):
            report.problems.append(f"cash account {account.public_id}: balances {account.available_fen} free, "
                                   f"{account.held_fen} held differ from its journal ({available}, {held})")
        if account.held_fen != reserved.get(pk(account), 0):
            report.problems.append(f"cash account {account.public_id} holds {account.held_fen} fen but its open "
                                   f"orders, bids and withdrawals reserve {reserved.get(pk(account), 0)}")
        if account.kind != CashAccountKind.CLEARING:
            held_total += account.available_fen + account.held_fen
    deposits = session.execute(select(func.coalesce(func.sum(col(CashLine.amount_fen)), 0))
                               .join(CashEntry, col(CashEntry.id) == col(CashLine.entry_id))
                               .join(CashAccount, col(CashAccount.id) == col(CashLine.account_id))
                               .where(col(CashEntry.kind) == "deposit",
                                      col(CashAccount.kind) == CashAccountKind.PARTY.value)).scalar_one()
    paid = session.execute(select(func.coalesce(func.sum(col(Withdrawal.amount_fen)), 0))
                           .where(col(Withdrawal.status) == WithdrawalStatus.PAID.value)).scalar_one()
    if int(deposits) - int(paid) != held_total:
        report.problems.append(f"cash is not conserved: deposits {deposits} − paid withdrawals {paid} ≠ "
                               f"balances, held and fees {held_total}")
