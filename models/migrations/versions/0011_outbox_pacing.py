"""outbox pacing shared by senders: claims and urgency on ``outbox_message``, ``outbox_chat``
(each chat's next-allowed time), ``outbox_bucket`` (the global rate)

Revision ID: 0011_outbox_pacing
Revises: 0010_sandbox_chat
Create Date: 2026-12-07 13:00:00.000000

Hand-written. Any number of outbox senders now send at once: each claims the row it sends
and takes the chat's turn and a token from the shared bucket in the same transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0011_outbox_pacing'
down_revision: str | None = '0010_sandbox_chat'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message') as batch:
        batch.add_column(sa.Column('urgent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=120),
                                   nullable=True))
        batch.add_column(sa.Column('claim_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table(
        'outbox_chat',
        sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('next_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('recent', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('chat_id'),
    )
    op.create_table(
        'outbox_bucket',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('tat', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('held_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('outbox_bucket')
    op.drop_table('outbox_chat')
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_column('claim_until')
        batch.drop_column('claimed_by')
        batch.drop_column('urgent')
