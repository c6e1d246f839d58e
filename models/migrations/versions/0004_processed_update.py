"""processed_update: the Telegram updates already handled (webhook redelivery dedupe)

Revision ID: 0004_processed_update
Revises: 0003
Create Date: 2026-12-07 10:00:00.000000

Hand-written. One row per update id handled in webhook mode, written in the same
transaction as the update's work, so a redelivery reaching any worker is dropped and a
failed update's retry is processed. Pruned after a day (index on ``processed_at``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0004_processed_update'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'processed_update',
        sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('update_id'),
    )
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_update_processed_at'), ['processed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_update_processed_at'))
    op.drop_table('processed_update')
