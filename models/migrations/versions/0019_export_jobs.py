"""export jobs: ``export_job``, the console's background exports, in the database

Revision ID: 0019_export_jobs
Revises: 0018_bodies
Create Date: 2026-12-07 16:00:00.000000

Hand-written. A ledger made in the background was kept in the memory of the web worker
that started it; behind several ``baoxue web`` workers the progress page and the download
may reach another one. The job, its progress and the finished file are kept here instead
(``casework.export_jobs``), deleted a day after.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0019_export_jobs'
down_revision: str | None = '0018_bodies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'export_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('pct', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index(op.f('ix_export_job_user_id'), 'export_job', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_export_job_user_id'), table_name='export_job')
    op.drop_table('export_job')
