"""log identity; a ledger entry for every holding account and its holder

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 14:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import rfc8785
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('log_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('verifier_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('id = 1', name='log_identity_single_row'),
    sa.PrimaryKeyConstraint('id')
    )
    # Accounts opened before their opening was logged get their entry now, in id order, so that
    # the audit can check every holder against the log.
    connection = op.get_bind()
    now = datetime.now(UTC)
    accounts = connection.execute(sa.text(
        "SELECT a.id, a.public_id, p.public_id FROM account a JOIN party p ON p.id = a.party_id "
        "WHERE a.kind = 'holding' ORDER BY a.id")).all()
    for account_id, account, party in accounts:
        body = rfc8785.dumps({"v": 1, "type": "open_account", "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              "id": account, "party": party, "kind": "holding"})
        connection.execute(sa.text(
            "INSERT INTO ledger_entry (kind, body, from_account_id, to_account_id, created_at) "
            "VALUES ('open_account', :body, NULL, :account, :now)"), {"body": body, "account": account_id, "now": now})


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM ledger_entry WHERE kind = 'open_account' AND leaf_index IS NULL"))
    op.drop_table('log_identity')
