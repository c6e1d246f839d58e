"""due order: ``ix_deadline_open_work_due``, the open working deadlines in due order

Revision ID: 0020_due_order
Revises: 0019_export_jobs
Create Date: 2026-12-07 16:10:00.000000

Hand-written. The console's case list, sorted by next deadline (its default), walks each
case's first open working deadline in due order and stops at the page
(``casework.case_list.first_deadline``) instead of grouping every open deadline of the
county by case on every page (benchmarks/bench_console.py: the page query at 50,000
cases went from ~85 ms to under 2 ms).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020_due_order'
down_revision: str | None = '0019_export_jobs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    work = sa.text("status = 'open' AND kind IN ('step', 'round')")
    op.create_index('ix_deadline_open_work_due', 'deadline', ['due_at', 'case_id'],
                    postgresql_where=work, sqlite_where=work)


def downgrade() -> None:
    op.drop_index('ix_deadline_open_work_due', table_name='deadline')
