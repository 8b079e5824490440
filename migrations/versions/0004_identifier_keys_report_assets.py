"""asset and registration identifiers compared by a normalised key; the assets each report names

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(identifier: str) -> str:
    # The rule of verification.assets.identifier_key, frozen here as this migration applied it.
    return unicodedata.normalize("NFKC", identifier).strip().casefold()


def _backfill_keys(table: str) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"SELECT id, identifier FROM {table}")).all()
    for row_id, identifier in rows:
        connection.execute(sa.text(f"UPDATE {table} SET identifier_key = :key WHERE id = :id"),
                           {"key": _key(identifier), "id": row_id})


def upgrade() -> None:
    for table in ('project_asset', 'external_registration'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('identifier_key', sa.String(length=120), nullable=True))
        _backfill_keys(table)
    with op.batch_alter_table('project_asset', schema=None) as batch_op:
        batch_op.alter_column('identifier_key', existing_type=sa.String(length=120), nullable=False)
        batch_op.drop_index('ux_asset_active_once', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.create_index('ux_asset_active_once', ['kind', 'identifier_key'], unique=True,
                              postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    with op.batch_alter_table('external_registration', schema=None) as batch_op:
        batch_op.alter_column('identifier_key', existing_type=sa.String(length=120), nullable=False)
        batch_op.drop_index('ix_external_registration_lookup')
        batch_op.create_index('ix_external_registration_lookup', ['scheme', 'identifier_key'], unique=False)

    op.create_table('report_asset',
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('identifier_key', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['monitoring_report.id'], ),
    sa.PrimaryKeyConstraint('report_id', 'kind', 'identifier_key')
    )
    with op.batch_alter_table('report_asset', schema=None) as batch_op:
        batch_op.create_index('ix_report_asset_lookup', ['kind', 'identifier_key'], unique=False)
    # Reports filed before this revision did not record the assets their data named: take every
    # asset of their project, which can only make the double-counting check stricter.
    op.execute(sa.text(
        "INSERT INTO report_asset (report_id, kind, identifier_key) "
        "SELECT DISTINCT r.id, a.kind, a.identifier_key FROM monitoring_report r "
        "JOIN project_asset a ON a.project_id = r.project_id WHERE r.status <> 'rejected'"))


def downgrade() -> None:
    with op.batch_alter_table('report_asset', schema=None) as batch_op:
        batch_op.drop_index('ix_report_asset_lookup')
    op.drop_table('report_asset')
    with op.batch_alter_table('external_registration', schema=None) as batch_op:
        batch_op.drop_index('ix_external_registration_lookup')
        batch_op.create_index('ix_external_registration_lookup', ['scheme', 'identifier'], unique=False)
        batch_op.drop_column('identifier_key')
    with op.batch_alter_table('project_asset', schema=None) as batch_op:
        batch_op.drop_index('ux_asset_active_once', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.create_index('ux_asset_active_once', ['kind', 'identifier'], unique=True,
                              postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.drop_column('identifier_key')
