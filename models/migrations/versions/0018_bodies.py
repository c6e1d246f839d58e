"""bodies: ``app_user.body``, the body a person acts for (县人民政府, 市教育局, 区扶贫工作领导小组)

Revision ID: 0018_bodies
Revises: 0017_agenda_held
Create Date: 2026-12-07 13:10:00.000000

Hand-written. Some ladder steps belong to bodies that are not one of the roles (issue #11):
a policy names the body, a deployment marks the people who act for it. NULL is the role's
own office, so every existing user keeps what they receive.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_bodies'
down_revision: str | None = '0017_agenda_held'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.add_column(sa.Column('body', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.drop_column('body')
