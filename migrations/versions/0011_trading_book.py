"""trading II: products (baskets with eligibility rules, lot, tick, band, sessions), the order book,
cash holds for buy orders and bids, and trades' product, trading day and matched orders

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:52:42.561633
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('methodology_ids', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('vintage_from', sa.Integer(), nullable=True),
    sa.Column('vintage_to', sa.Integer(), nullable=True),
    sa.Column('credit_kind', sa.String(length=10), nullable=False),
    sa.Column('lot_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tick_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('band_pct', sa.Integer(), nullable=False),
    sa.Column('reference_price_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sessions', sa.String(length=120), nullable=False),
    sa.Column('weekdays', sa.String(length=7), nullable=False),
    sa.Column('timezone', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('state_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('last_priority', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("credit_kind IN ('any', 'reductions', 'removals')", name='product_credit_kind'),
    sa.CheckConstraint("state IN ('open', 'halted', 'closed')", name='product_state'),
    sa.CheckConstraint('band_pct > 0 AND band_pct <= 100', name='product_band'),
    sa.CheckConstraint('lot_kg > 0 AND tick_fen > 0', name='product_lot_tick_positive'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('book_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('kind', sa.String(length=6), nullable=False),
    sa.Column('time_in_force', sa.String(length=3), nullable=False),
    sa.Column('price_fen_per_t', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('filled_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=9), nullable=False),
    sa.Column('priority', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('trading_day', sa.Date(), nullable=False),
    sa.Column('status_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("(status = 'filled') = (filled_kg = quantity_kg)", name='book_order_filled_when_full'),
    sa.CheckConstraint("kind IN ('limit', 'market')", name='book_order_kind'),
    sa.CheckConstraint("side IN ('buy', 'sell')", name='book_order_side'),
    sa.CheckConstraint("status IN ('open', 'filled', 'cancelled', 'expired')", name='book_order_status'),
    sa.CheckConstraint("time_in_force IN ('day', 'gtc', 'ioc', 'fok')", name='book_order_time_in_force'),
    sa.CheckConstraint('filled_kg >= 0 AND filled_kg <= quantity_kg', name='book_order_never_overfilled'),
    sa.CheckConstraint('quantity_kg > 0 AND price_fen_per_t > 0', name='book_order_positive'),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('book_order', schema=None) as batch_op:
        batch_op.create_index('ix_book_order_matching', ['product_id', 'side', 'status', 'price_fen_per_t', 'priority'], unique=False)
        batch_op.create_index(batch_op.f('ix_book_order_party_id'), ['party_id'], unique=False)

    op.create_table('cash_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('amount_fen >= 0', name='cash_hold_not_negative'),
    sa.ForeignKeyConstraint(['account_id'], ['cash_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    with op.batch_alter_table('cash_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cash_hold_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('trade', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('trading_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('buy_ref', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('sell_ref', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_trade_product_day', ['product_id', 'trading_day'], unique=False)
        batch_op.create_foreign_key('fk_trade_product', 'product', ['product_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('trade', schema=None) as batch_op:
        batch_op.drop_constraint('fk_trade_product', type_='foreignkey')
        batch_op.drop_index('ix_trade_product_day')
        batch_op.drop_column('sell_ref')
        batch_op.drop_column('buy_ref')
        batch_op.drop_column('trading_day')
        batch_op.drop_column('product_id')

    with op.batch_alter_table('cash_hold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cash_hold_account_id'))

    op.drop_table('cash_hold')
    with op.batch_alter_table('book_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_book_order_party_id'))
        batch_op.drop_index('ix_book_order_matching')

    op.drop_table('book_order')
    op.drop_table('product')
