"""trading I: locked credit blocks, market cash accounts and their journal, withdrawals, bilateral
offers, trades, pledges

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:13:23.929382
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cash_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('bank_reference', sa.String(length=60), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bank_reference'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('cash_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cash_entry_reference'), ['reference'], unique=False)

    op.create_table('cash_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('available_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('held_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'party') = (party_id IS NOT NULL)", name='cash_account_party_matches_kind'),
    sa.CheckConstraint("kind <> 'clearing' OR held_fen = 0", name='cash_clearing_holds_nothing'),
    sa.CheckConstraint("kind = 'clearing' OR (available_fen >= 0 AND held_fen >= 0)", name='cash_account_not_negative'),
    sa.CheckConstraint("kind IN ('party', 'fees', 'clearing')", name='cash_account_kind'),
    sa.CheckConstraint("status IN ('open', 'closed')", name='cash_account_status'),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('party_id'),
    sa.UniqueConstraint('public_id')
    )
    op.create_table('cash_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=9), nullable=False),
    sa.Column('amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint("bucket IN ('available', 'held')", name='cash_line_bucket'),
    sa.CheckConstraint('amount_fen <> 0', name='cash_line_not_zero'),
    sa.ForeignKeyConstraint(['account_id'], ['cash_account.id'], ),
    sa.ForeignKeyConstraint(['entry_id'], ['cash_entry.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cash_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cash_line_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cash_line_entry_id'), ['entry_id'], unique=False)

    op.create_table('offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('seller_party_id', sa.Integer(), nullable=False),
    sa.Column('seller_account_id', sa.Integer(), nullable=False),
    sa.Column('buyer_party_id', sa.Integer(), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_fen_per_t', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'accepted', 'rejected', 'withdrawn', 'expired')", name='offer_status'),
    sa.CheckConstraint('price_fen_per_t > 0', name='offer_price_positive'),
    sa.CheckConstraint('quantity_kg > 0', name='offer_quantity_positive'),
    sa.CheckConstraint('seller_party_id <> buyer_party_id', name='offer_not_to_oneself'),
    sa.ForeignKeyConstraint(['buyer_party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['seller_account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['seller_party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index('ix_offer_open_expiry', ['status', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_buyer_party_id'), ['buyer_party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_seller_party_id'), ['seller_party_id'], unique=False)

    op.create_table('pledge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('holder_party_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('pledgee_party_id', sa.Integer(), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loan_reference', sa.String(length=60), nullable=False),
    sa.Column('maturity', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'released', 'enforced')", name='pledge_status'),
    sa.CheckConstraint('holder_party_id <> pledgee_party_id', name='pledge_not_to_oneself'),
    sa.CheckConstraint('quantity_kg > 0', name='pledge_quantity_positive'),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['holder_party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['pledgee_party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('pledge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledge_holder_party_id'), ['holder_party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pledge_pledgee_party_id'), ['pledgee_party_id'], unique=False)

    op.create_table('withdrawal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('bank_reference', sa.String(length=60), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("(status = 'paid') = (bank_reference IS NOT NULL)", name='withdrawal_paid_has_reference'),
    sa.CheckConstraint("status IN ('requested', 'paid', 'cancelled')", name='withdrawal_status'),
    sa.CheckConstraint('amount_fen > 0', name='withdrawal_positive'),
    sa.ForeignKeyConstraint(['account_id'], ['cash_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('withdrawal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_withdrawal_account_id'), ['account_id'], unique=False)

    op.create_table('trade',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=True),
    sa.Column('seller_party_id', sa.Integer(), nullable=False),
    sa.Column('buyer_party_id', sa.Integer(), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_fen_per_t', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('buyer_fee_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seller_fee_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cross_regional', sa.Boolean(), nullable=False),
    sa.Column('ledger_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cash_entry_id', sa.Integer(), nullable=False),
    sa.Column('executed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("mode IN ('bilateral', 'book', 'auction')", name='trade_mode'),
    sa.CheckConstraint('amount_fen >= 0 AND buyer_fee_fen >= 0 AND seller_fee_fen >= 0', name='trade_money'),
    sa.CheckConstraint('quantity_kg > 0 AND price_fen_per_t > 0', name='trade_positive'),
    sa.ForeignKeyConstraint(['buyer_party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['cash_entry_id'], ['cash_entry.id'], ),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entry.id'], ),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], ),
    sa.ForeignKeyConstraint(['seller_party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('offer_id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('trade', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_buyer_party_id'), ['buyer_party_id'], unique=False)
        batch_op.create_index('ix_trade_executed', ['executed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_seller_party_id'), ['seller_party_id'], unique=False)

    op.create_table('trade_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trade_id', sa.Integer(), nullable=False),
    sa.Column('methodology_id', sa.String(length=40), nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('quantity_kg > 0', name='trade_line_positive'),
    sa.ForeignKeyConstraint(['trade_id'], ['trade.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trade_id', 'methodology_id', 'vintage', 'region', name='trade_line_once')
    )
    with op.batch_alter_table('trade_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_line_trade_id'), ['trade_id'], unique=False)

    with op.batch_alter_table('credit_block', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lock_ref', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_credit_block_lock_ref'), ['lock_ref'], unique=False)
    _block_status_constraints(BLOCK_STATUSES, with_lock=True)
    cash_account = sa.table("cash_account", sa.column("public_id", sa.String), sa.column("kind", sa.String),
                            sa.column("available_fen", sa.BigInteger), sa.column("held_fen", sa.BigInteger),
                            sa.column("status", sa.String), sa.column("created_at", sa.DateTime(timezone=True)))
    op.bulk_insert(cash_account, [
        {"public_id": public_id, "kind": kind, "available_fen": 0, "held_fen": 0, "status": "open",
         "created_at": datetime.now(UTC)} for public_id, kind in SYSTEM_CASH_ACCOUNTS])


def downgrade() -> None:
    _block_status_constraints(BLOCK_STATUSES_BEFORE, with_lock=False)
    with op.batch_alter_table('credit_block', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_block_lock_ref'))
        batch_op.drop_column('lock_ref')

    with op.batch_alter_table('trade_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_line_trade_id'))

    op.drop_table('trade_line')
    with op.batch_alter_table('trade', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_seller_party_id'))
        batch_op.drop_index('ix_trade_executed')
        batch_op.drop_index(batch_op.f('ix_trade_buyer_party_id'))

    op.drop_table('trade')
    with op.batch_alter_table('withdrawal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_withdrawal_account_id'))

    op.drop_table('withdrawal')
    with op.batch_alter_table('pledge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledge_pledgee_party_id'))
        batch_op.drop_index(batch_op.f('ix_pledge_holder_party_id'))

    op.drop_table('pledge')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_seller_party_id'))
        batch_op.drop_index(batch_op.f('ix_offer_buyer_party_id'))
        batch_op.drop_index('ix_offer_open_expiry')

    op.drop_table('offer')
    with op.batch_alter_table('cash_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cash_line_entry_id'))
        batch_op.drop_index(batch_op.f('ix_cash_line_account_id'))

    op.drop_table('cash_line')
    op.drop_table('cash_account')
    with op.batch_alter_table('cash_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cash_entry_reference'))

    op.drop_table('cash_entry')


# The market's fee income and the settlement bank's side of deposits and withdrawals (trading.cash).
SYSTEM_CASH_ACCOUNTS = [("cash_market_fees", "fees"), ("cash_clearing", "clearing")]
BLOCK_STATUSES_BEFORE = "status IN ('active', 'frozen', 'retired', 'cancelled')"
BLOCK_STATUSES = "status IN ('active', 'frozen', 'locked', 'retired', 'cancelled')"
BLOCK_LOCK = "(status = 'locked') = (lock_ref IS NOT NULL)"


def _block_status_constraints(statuses: str, with_lock: bool) -> None:
    """Credit blocks may be `locked` (with the lock that holds them). SQLite changes a CHECK by
    copying the table, which drops its triggers: the no-overlap guard of 0001 is made again."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint('block_status', 'credit_block', type_='check')
        op.create_check_constraint('block_status', 'credit_block', statuses)
        if with_lock:
            op.create_check_constraint('block_locked_has_lock', 'credit_block', BLOCK_LOCK)
        else:
            op.drop_constraint('block_locked_has_lock', 'credit_block', type_='check')
        return
    with op.batch_alter_table('credit_block', recreate='always') as batch_op:
        batch_op.drop_constraint('block_status', type_='check')
        batch_op.create_check_constraint('block_status', statuses)
        if with_lock:
            batch_op.create_check_constraint('block_locked_has_lock', BLOCK_LOCK)
        else:
            batch_op.drop_constraint('block_locked_has_lock', type_='check')
    for event in ("INSERT", "UPDATE"):
        op.execute(f"DROP TRIGGER IF EXISTS credit_block_no_overlap_{event.lower()}")
        op.execute(
            f"""
            CREATE TRIGGER credit_block_no_overlap_{event.lower()}
            BEFORE {event} ON credit_block
            WHEN EXISTS (
                SELECT 1 FROM credit_block other
                WHERE other.issuance_id = NEW.issuance_id
                  AND other.id IS NOT NEW.id
                  AND other.first_unit <= NEW.last_unit
                  AND other.last_unit >= NEW.first_unit
            )
            BEGIN
                SELECT RAISE(ABORT, 'credit_block_no_overlap: units already in another block');
            END
            """
        )
