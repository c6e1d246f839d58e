"""handover: a case offered to another county (随迁), pending until that county accepts

Revision ID: 0012_handover
Revises: 0011_outbox_pacing
Create Date: 2026-12-07 13:00:00.000000

Hand-written. A child who moved to another county is handed over, not closed: within one
deployment the case moves when the receiving county accepts; across deployments it goes as
an export file, imported on the other side and accepted or rejected there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012_handover'
down_revision: str | None = '0011_outbox_pacing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'handover',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('from_county_id', sa.Integer(), nullable=True),
        sa.Column('to_county_id', sa.Integer(), nullable=True),
        sa.Column('other_county', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column('new_address', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=True),
        sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('decision_note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['dropout_case.id'], ),
        sa.ForeignKeyConstraint(['from_county_id'], ['county.id'], ),
        sa.ForeignKeyConstraint(['to_county_id'], ['county.id'], ),
        sa.ForeignKeyConstraint(['requested_by'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['decided_by'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_to_county_id'), ['to_county_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handover_to_county_id'))
        batch_op.drop_index(batch_op.f('ix_handover_case_id'))
    op.drop_table('handover')
