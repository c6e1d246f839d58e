"""home-teaching sessions: ``home_teaching_session``, one row per 送教上门 session

Revision ID: 0016_home_teaching
Revises: 0015_verification
Create Date: 2026-12-07 13:05:00.000000

Hand-written. A case placed in home teaching had a weekly reminder but nowhere to record the
session; seed 002 asks for one a week of at least 2 class hours, so each session (date,
class hours, teacher, content) is a row the case card counts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0016_home_teaching'
down_revision: str | None = '0015_verification'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'home_teaching_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('session_date', sa.Date(), nullable=False),
        sa.Column('class_hours', sa.Integer(), nullable=False),
        sa.Column('teacher', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('content', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['dropout_case.id'], ),
        sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('home_teaching_session', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_home_teaching_session_case_id'), ['case_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('home_teaching_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_home_teaching_session_case_id'))
    op.drop_table('home_teaching_session')
