"""sandbox marker: ``app_meta``, facts about the database itself

Revision ID: 0006_sandbox_marker
Revises: 0005_process_lease
Create Date: 2026-12-07 10:00:00.000000

Hand-written. ``app_meta`` is a small key/value table; the sandbox writes the key
``sandbox`` when it creates and seeds a database, and refuses to start on a database
with data but without that row (a production database is never the sandbox's).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006_sandbox_marker'
down_revision: str | None = '0005_process_lease'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'app_meta',
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('app_meta')
