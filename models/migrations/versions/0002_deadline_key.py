"""deadline: dedupe key for calendar jobs, attempt count for failing handlers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00.000000

Hand-written. ``dedupe_key`` lets planners create calendar-job rows idempotently (two
processes planning the same job insert the same key; the unique index keeps one).
``attempts`` counts ticks whose handler raised on the row, so a row that always fails is
set aside as ``failed`` instead of being retried forever.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default=sa.text('0'))
        )
        batch_op.create_index(batch_op.f('ix_deadline_dedupe_key'), ['dedupe_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_dedupe_key'))
        batch_op.drop_column('attempts')
        batch_op.drop_column('dedupe_key')
