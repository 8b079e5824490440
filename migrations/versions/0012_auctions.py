"""trading II: one-sided auctions (单向竞价) and their sealed bids

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:13:11.802992
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('announcer_party_id', sa.Integer(), nullable=False),
    sa.Column('seller_party_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('pledge_id', sa.Integer(), nullable=True),
    sa.Column('lock_ref', sa.String(length=40), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lot_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('min_bid_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reserve_price_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tick_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule', sa.String(length=10), nullable=False),
    sa.Column('secured_amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('opens_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closes_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('clearing_price_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sold_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bidders', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('settled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("rule IN ('uniform', 'pay_as_bid')", name='auction_rule'),
    sa.CheckConstraint("status IN ('open', 'settled', 'failed')", name='auction_status'),
    sa.CheckConstraint('opens_at < closes_at', name='auction_window'),
    sa.CheckConstraint('quantity_kg > 0 AND lot_kg > 0 AND min_bid_kg > 0', name='auction_quantities'),
    sa.CheckConstraint('reserve_price_fen > 0 AND tick_fen > 0', name='auction_prices'),
    sa.CheckConstraint('sold_kg >= 0 AND sold_kg <= quantity_kg', name='auction_never_oversold'),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['announcer_party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['pledge_id'], ['pledge.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['seller_party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('auction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_announcer_party_id'), ['announcer_party_id'], unique=False)
        batch_op.create_index('ix_auction_status_close', ['status', 'closes_at'], unique=False)

    op.create_table('auction_bid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('auction_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('price_fen_per_t', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quantity_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('allocated_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('sealed', 'won', 'partly_won', 'lost')", name='auction_bid_status'),
    sa.CheckConstraint('allocated_kg >= 0 AND allocated_kg <= quantity_kg', name='auction_bid_allocation'),
    sa.CheckConstraint('quantity_kg > 0 AND price_fen_per_t > 0', name='auction_bid_positive'),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['auction_id'], ['auction.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('auction_bid', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_bid_party_id'), ['party_id'], unique=False)
        batch_op.create_index('ix_auction_bid_ranking', ['auction_id', 'price_fen_per_t', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('auction_bid', schema=None) as batch_op:
        batch_op.drop_index('ix_auction_bid_ranking')
        batch_op.drop_index(batch_op.f('ix_auction_bid_party_id'))

    op.drop_table('auction_bid')
    with op.batch_alter_table('auction', schema=None) as batch_op:
        batch_op.drop_index('ix_auction_status_close')
        batch_op.drop_index(batch_op.f('ix_auction_announcer_party_id'))

    op.drop_table('auction')
