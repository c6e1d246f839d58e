"""the officers' console: ``console_link`` (one-time sign-in links), ``console_session``,
and the indexes its case list and overview read by

Revision ID: 0013_console
Revises: 0012_handover
Create Date: 2026-12-07 13:00:00.000000

Hand-written. A link and a session are kept as the SHA-256 of their random token only.
The indexes serve the console's pages at county size (benchmarks/bench_console.py): each
case's open working deadlines (next due, overdue; partial, so an index-only scan), the
cases of a county by state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013_console'
down_revision: str | None = '0012_handover'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('console_link', 'console_session'):
        op.create_table(
            table,
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column('user_id', sa.Integer(), nullable=False),
            sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column('used_at' if table == 'console_link' else 'ended_at',
                      sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('token_hash'),
        )
        op.create_index(op.f(f'ix_{table}_user_id'), table, ['user_id'], unique=False)
    work = sa.text("status = 'open' AND kind IN ('step', 'round')")
    op.create_index('ix_deadline_open_work', 'deadline', ['case_id', 'due_at'],
                    postgresql_where=work, sqlite_where=work)
    op.create_index('ix_dropout_case_county_state', 'dropout_case', ['county_id', 'state'])


def downgrade() -> None:
    op.drop_index('ix_dropout_case_county_state', table_name='dropout_case')
    op.drop_index('ix_deadline_open_work', table_name='deadline')
    for table in ('console_session', 'console_link'):
        op.drop_index(op.f(f'ix_{table}_user_id'), table_name=table)
        op.drop_table(table)
