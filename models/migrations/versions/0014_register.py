"""the register of every school-age child: ``register_child`` (适龄儿童台账)

Revision ID: 0014_register
Revises: 0013_console
Create Date: 2026-12-07 13:00:00.000000

Hand-written. Children 6–15 by village and household, from a household-register extract or
door to door, each with a status (casework.register).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import EncryptedText

revision: str = '0014_register'
down_revision: str | None = '0013_console'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'register_child',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('household', sa.String(length=40), nullable=True),
        sa.Column('household_head', sa.String(length=40), nullable=True),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('gender', sa.String(length=8), nullable=False),
        sa.Column('birth_date', sa.Date(), nullable=False),
        sa.Column('id_number', EncryptedText(), nullable=True),
        sa.Column('id_number_hash', sa.String(length=64), nullable=True),
        sa.Column('address', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('status_note', sa.String(length=200), nullable=True),
        sa.Column('student_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['county_id'], ['county.id']),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['student_id'], ['student.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('id_number_hash'),
    )
    op.create_index('ix_register_child_county_id', 'register_child', ['county_id'])
    op.create_index('ix_register_child_village_id', 'register_child', ['village_id'])
    op.create_index('ix_register_child_name', 'register_child', ['name'])
    op.create_index('ix_register_child_student_id', 'register_child', ['student_id'])


def downgrade() -> None:
    op.drop_table('register_child')
