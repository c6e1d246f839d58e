"""sandbox chats: ``sandbox_chat_message``, the stand-in Telegram's messages kept across restarts

Revision ID: 0010_sandbox_chat
Revises: 0009_audit_append_only
Create Date: 2026-12-07 11:40:00.000000

Hand-written. The sandbox keeps its fake Telegram in memory; restarting it emptied every chat
while the database kept the cases whose alerts were in them. The sandbox now saves each
message here and loads them on start.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_sandbox_chat'
down_revision: str | None = '0009_audit_append_only'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sandbox_chat_message',
        sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('message_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('chat_id', 'message_id'),
    )


def downgrade() -> None:
    op.drop_table('sandbox_chat_message')
