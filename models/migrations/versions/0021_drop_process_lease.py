"""drop process_lease: the outbox senders cooperate through their claims (``bot.outbox_claims``)

Revision ID: 0021_drop_process_lease
Revises: 0020_due_order
Create Date: 2026-12-07 16:30:00.000000

Hand-written. The lease let one process at a time be the outbox sender; any number of
senders now share the outbox through row claims, the chats' turns and one rate bucket, and
nothing reads the lease. The downgrade makes the table again, empty (a lease is held for a
minute at most; nothing in it outlives the processes that held it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0021_drop_process_lease'
down_revision: str | None = '0020_due_order'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table('process_lease')


def downgrade() -> None:
    op.create_table(
        'process_lease',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('acquired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
