"""attendance: the daily attendance answers and the term-start roll call

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:00:00.000000

Hand-written. ``attendance_day`` is one class's answer for one school day (a day nobody
answered has no row: "not known"); ``attendance_mark`` one pupil's absence (or a
correction to present) on such a day, unique per pupil and day. ``roll_call`` is a class's
term-start roll call (开学报到) and ``roll_call_entry`` a pupil who had not reported.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'attendance_day',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('teacher_id', sa.Integer(), nullable=False),
        sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('all_present', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['class_id'], ['school_class.id'], ),
        sa.ForeignKeyConstraint(['teacher_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('class_id', 'day'),
    )
    with op.batch_alter_table('attendance_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_day_class_id'), ['class_id'], unique=False)

    op.create_table(
        'attendance_mark',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('recorded_by', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['class_id'], ['school_class.id'], ),
        sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['student_id'], ['student.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('student_id', 'day'),
    )
    with op.batch_alter_table('attendance_mark', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_mark_class_id'), ['class_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_attendance_mark_student_id'), ['student_id'], unique=False
        )

    op.create_table(
        'roll_call',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('term_start', sa.Date(), nullable=False),
        sa.Column('closes_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('answered_by', sa.Integer(), nullable=True),
        sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['answered_by'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['class_id'], ['school_class.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('class_id', 'term_start'),
    )
    with op.batch_alter_table('roll_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roll_call_class_id'), ['class_id'], unique=False)

    op.create_table(
        'roll_call_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roll_call_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('noted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('reported_on', sa.Date(), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['dropout_case.id'], ),
        sa.ForeignKeyConstraint(['roll_call_id'], ['roll_call.id'], ),
        sa.ForeignKeyConstraint(['student_id'], ['student.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('roll_call_id', 'student_id'),
    )
    with op.batch_alter_table('roll_call_entry', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_roll_call_entry_roll_call_id'), ['roll_call_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_roll_call_entry_student_id'), ['student_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('roll_call_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roll_call_entry_student_id'))
        batch_op.drop_index(batch_op.f('ix_roll_call_entry_roll_call_id'))
    op.drop_table('roll_call_entry')
    with op.batch_alter_table('roll_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roll_call_class_id'))
    op.drop_table('roll_call')
    with op.batch_alter_table('attendance_mark', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_mark_student_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_mark_class_id'))
    op.drop_table('attendance_mark')
    with op.batch_alter_table('attendance_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_day_class_id'))
    op.drop_table('attendance_day')
