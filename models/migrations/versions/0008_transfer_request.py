"""transfer_request: a child matched outside the requester's scope, awaiting the other unit

Revision ID: 0008_transfer_request
Revises: 0007_people_keys
Create Date: 2026-12-07 10:00:00.000000

Hand-written. A roster import or a door-to-door registration that finds the child
registered outside the requester's scope does not take the child over; it leaves a
``transfer_request`` that the unit the child belongs to accepts or rejects.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008_transfer_request'
down_revision: str | None = '0007_people_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'transfer_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=False),
        sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('to_school_id', sa.Integer(), nullable=True),
        sa.Column('to_class_id', sa.Integer(), nullable=True),
        sa.Column('to_village_id', sa.Integer(), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['decided_by'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['requested_by'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['student_id'], ['student.id'], ),
        sa.ForeignKeyConstraint(['to_class_id'], ['school_class.id'], ),
        sa.ForeignKeyConstraint(['to_school_id'], ['school.id'], ),
        sa.ForeignKeyConstraint(['to_village_id'], ['village.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('transfer_request', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_transfer_request_student_id'), ['student_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('transfer_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_request_student_id'))
    op.drop_table('transfer_request')
