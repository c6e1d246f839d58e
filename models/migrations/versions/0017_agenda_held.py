"""agenda: a partial index on the outbox messages held for their recipient's next agenda

Revision ID: 0017_agenda_held
Revises: 0016_home_teaching
Create Date: 2026-12-07 13:00:00.000000

Hand-written. Reminders and news now wait in the outbox with status ``held`` until the
recipient's next agenda slot folds them into one message (``casework.agenda``); each slot
reads the held rows, which stay few while the table grows: a partial index finds them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_agenda_held'
down_revision: str | None = '0016_home_teaching'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_outbox_held', 'outbox_message', ['recipient_id', 'id'], unique=False,
        postgresql_where=sa.text("status = 'held'"), sqlite_where=sa.text("status = 'held'"),
    )


def downgrade() -> None:
    op.drop_index('ix_outbox_held', table_name='outbox_message')
