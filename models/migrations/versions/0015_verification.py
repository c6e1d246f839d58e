"""verification rounds (核查): ``verification_round`` and ``verification_entry``

Revision ID: 0015_verification
Revises: 0014_register
Create Date: 2026-12-07 13:00:00.000000

Hand-written. A list of suspected out-of-school children pushed down from above, each
child matched to our records, assigned to the unit that verifies it, and given a
disposition with evidence that the township reviews (issue #14).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import EncryptedText

revision: str = '0015_verification'
down_revision: str | None = '0014_register'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'verification_round',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('id_column', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['county_id'], ['county.id']),
        sa.ForeignKeyConstraint(['created_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_verification_round_county_id', 'verification_round', ['county_id'])
    op.create_table(
        'verification_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('row_number', sa.Integer(), nullable=False),
        sa.Column('cells', sa.JSON(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('gender', sa.String(length=8), nullable=True),
        sa.Column('birth_date', sa.Date(), nullable=True),
        sa.Column('id_raw', EncryptedText(), nullable=True),
        sa.Column('id_number_hash', sa.String(length=64), nullable=True),
        sa.Column('id_status', sa.String(length=8), nullable=False),
        sa.Column('hukou_address', sa.String(length=200), nullable=True),
        sa.Column('batch', sa.String(length=60), nullable=True),
        sa.Column('match', sa.String(length=10), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=True),
        sa.Column('candidate_id', sa.Integer(), nullable=True),
        sa.Column('duplicate_of', sa.Integer(), nullable=True),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('township_id', sa.Integer(), nullable=True),
        sa.Column('village_id', sa.Integer(), nullable=True),
        sa.Column('school_id', sa.Integer(), nullable=True),
        sa.Column('class_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('disposition', sa.String(length=16), nullable=True),
        sa.Column('detail', sa.String(length=24), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('proposed_by', sa.Integer(), nullable=True),
        sa.Column('proposed_at', sa.DateTime(), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decision_note', sa.String(length=500), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['round_id'], ['verification_round.id']),
        sa.ForeignKeyConstraint(['student_id'], ['student.id']),
        sa.ForeignKeyConstraint(['candidate_id'], ['student.id']),
        sa.ForeignKeyConstraint(['duplicate_of'], ['verification_entry.id']),
        sa.ForeignKeyConstraint(['county_id'], ['county.id']),
        sa.ForeignKeyConstraint(['township_id'], ['township.id']),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['school_id'], ['school.id']),
        sa.ForeignKeyConstraint(['class_id'], ['school_class.id']),
        sa.ForeignKeyConstraint(['proposed_by'], ['app_user.id']),
        sa.ForeignKeyConstraint(['decided_by'], ['app_user.id']),
        sa.ForeignKeyConstraint(['case_id'], ['dropout_case.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id', 'row_number'),
    )
    for column in ('round_id', 'id_number_hash', 'student_id', 'county_id', 'township_id',
                   'village_id', 'school_id', 'class_id', 'status'):
        op.create_index(f'ix_verification_entry_{column}', 'verification_entry', [column])


def downgrade() -> None:
    op.drop_table('verification_entry')
    op.drop_table('verification_round')
