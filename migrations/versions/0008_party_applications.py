"""party applications

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 22:41:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('party_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('consented_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_party_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('claim_code_hash', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("(status = 'approved') = (party_id IS NOT NULL)", name='application_approved_has_party'),
    sa.CheckConstraint("claimed_at IS NULL OR status = 'approved'", name='application_claimed_once_approved'),
    sa.CheckConstraint("kind IN ('organisation', 'individual')", name='application_kind'),
    sa.CheckConstraint("role IN ('project_owner', 'buyer')", name='application_role'),
    sa.CheckConstraint("status IN ('submitted', 'approved', 'rejected')", name='application_status'),
    sa.CheckConstraint('phone IS NOT NULL OR email IS NOT NULL', name='application_has_contact'),
    sa.ForeignKeyConstraint(['decided_by_party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('party_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_party_application_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('party_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_party_application_status'))

    op.drop_table('party_application')
