"""party region and status; accreditation status and scope rows; document kinds

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=12), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('status_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.create_check_constraint('party_status', "status IN ('active', 'suspended')")

    op.create_table('accreditation_scope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('accreditation_id', sa.Integer(), nullable=False),
    sa.Column('methodology_id', sa.String(length=40), nullable=False),
    sa.Column('methodology_version', sa.String(length=20), nullable=True),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.ForeignKeyConstraint(['accreditation_id'], ['verifier_accreditation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('accreditation_scope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accreditation_scope_accreditation_id'), ['accreditation_id'],
                              unique=False)
    connection = op.get_bind()
    for accreditation_id, methodologies, regions in connection.execute(sa.text(
            "SELECT id, methodologies, regions FROM verifier_accreditation")).all():
        for methodology in methodologies.split():
            for region in regions.split():
                connection.execute(sa.text(
                    "INSERT INTO accreditation_scope (accreditation_id, methodology_id, region) "
                    "VALUES (:a, :m, :r)"), {"a": accreditation_id, "m": methodology, "r": region})

    with op.batch_alter_table('verifier_accreditation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('status_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('status_changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.execute(sa.text("UPDATE verifier_accreditation SET status = 'revoked', status_changed_at = revoked_at "
                       "WHERE revoked_at IS NOT NULL"))
    with op.batch_alter_table('verifier_accreditation', schema=None) as batch_op:
        batch_op.create_check_constraint('accreditation_status', "status IN ('active', 'suspended', 'revoked')")
        batch_op.drop_column('methodologies')
        batch_op.drop_column('regions')
        batch_op.drop_column('revoked_at')

    with op.batch_alter_table('project_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), nullable=False, server_default='other'))
        batch_op.add_column(sa.Column('filed_by_party_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_project_document_filed_by', 'party', ['filed_by_party_id'], ['id'])
        batch_op.create_check_constraint('document_kind',
                                         "kind IN ('design', 'permit', 'validation_report', 'other')")


def downgrade() -> None:
    with op.batch_alter_table('project_document', schema=None) as batch_op:
        batch_op.drop_constraint('document_kind', type_='check')
        batch_op.drop_constraint('fk_project_document_filed_by', type_='foreignkey')
        batch_op.drop_column('filed_by_party_id')
        batch_op.drop_column('kind')
    with op.batch_alter_table('verifier_accreditation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('methodologies', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='*'))
        batch_op.add_column(sa.Column('regions', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='*'))
        batch_op.add_column(sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.drop_constraint('accreditation_status', type_='check')
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('status_reason')
        batch_op.drop_column('status')
    with op.batch_alter_table('accreditation_scope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accreditation_scope_accreditation_id'))
    op.drop_table('accreditation_scope')
    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.drop_constraint('party_status', type_='check')
        batch_op.drop_column('status_reason')
        batch_op.drop_column('status')
        batch_op.drop_column('region')
