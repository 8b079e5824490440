"""net zero: facilities, inventories (versions, statements, green certificates claimed), claims and the
retirements behind them, certificates

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:30:25.237797
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('facility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('industry', sa.String(length=120), nullable=False),
    sa.Column('boundary', sa.String(length=2), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("boundary IN ('I', 'II')", name='facility_boundary'),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facility_party_id'), ['party_id'], unique=False)

    op.create_table('claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('facility_id', 'period_start', name='claim_one_per_facility_period'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_party_id'), ['party_id'], unique=False)

    op.create_table('inventory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('data_sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('calculation_json', sa.Text(), nullable=False),
    sa.Column('residual_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('verifier_party_id', sa.Integer(), nullable=True),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('filed_by_party_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'under_verification', 'changes_requested', 'verified', 'rejected', 'superseded')", name='inventory_status'),
    sa.CheckConstraint('period_end > period_start', name='inventory_period_ordered'),
    sa.CheckConstraint('residual_kg >= 0', name='inventory_residual_not_negative'),
    sa.CheckConstraint('version >= 1', name='inventory_version_positive'),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['filed_by_party_id'], ['party.id'], ),
    sa.ForeignKeyConstraint(['verifier_party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('facility_id', 'period_start', 'version', name='inventory_version_unique'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('inventory', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inventory_facility_id'), ['facility_id'], unique=False)

    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('inventory_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('residual_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('covered_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('document', sa.LargeBinary(), nullable=False),
    sa.Column('ledger_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('revoked_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("NOT revoked OR revoked_reason <> ''", name='certificate_revocation_reason'),
    sa.CheckConstraint('covered_kg >= residual_kg', name='certificate_covered'),
    sa.CheckConstraint('valid_until >= valid_from', name='certificate_validity_ordered'),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['inventory_id'], ['inventory.id'], ),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entry.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index('certificate_claim_current', ['claim_id', 'revoked'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_party_id'), ['party_id'], unique=False)

    op.create_table('green_certificate_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gec_key', sa.String(length=120), nullable=False),
    sa.Column('gec_id', sa.String(length=120), nullable=False),
    sa.Column('mwh_milli', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('inventory_id', sa.Integer(), nullable=False),
    sa.Column('generator_project_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('mwh_milli > 0', name='gec_claim_positive'),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['generator_project_id'], ['project.id'], ),
    sa.ForeignKeyConstraint(['inventory_id'], ['inventory.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('gec_key')
    )
    with op.batch_alter_table('green_certificate_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_green_certificate_claim_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_green_certificate_claim_inventory_id'), ['inventory_id'], unique=False)

    op.create_table('inventory_statement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inventory_id', sa.Integer(), nullable=False),
    sa.Column('accreditation_id', sa.Integer(), nullable=False),
    sa.Column('statement', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('verified_residual_kg', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('signed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('verified_residual_kg >= 0', name='inventory_statement_residual'),
    sa.ForeignKeyConstraint(['accreditation_id'], ['verifier_accreditation.id'], ),
    sa.ForeignKeyConstraint(['inventory_id'], ['inventory.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inventory_id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('claim_retirement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('retirement_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['retirement_id'], ['retirement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('retirement_id')
    )
    with op.batch_alter_table('claim_retirement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_retirement_claim_id'), ['claim_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('claim_retirement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_retirement_claim_id'))

    op.drop_table('claim_retirement')
    op.drop_table('inventory_statement')
    with op.batch_alter_table('green_certificate_claim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_green_certificate_claim_inventory_id'))
        batch_op.drop_index(batch_op.f('ix_green_certificate_claim_facility_id'))

    op.drop_table('green_certificate_claim')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_party_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_facility_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_claim_id'))
        batch_op.drop_index('certificate_claim_current')

    op.drop_table('certificate')
    with op.batch_alter_table('inventory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_facility_id'))

    op.drop_table('inventory')
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_party_id'))

    op.drop_table('claim')
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facility_party_id'))

    op.drop_table('facility')
