"""people and keys: deactivated users, revoked invites, key rotation progress

Revision ID: 0007_people_keys
Revises: 0006_sandbox_marker
Create Date: 2026-12-07 10:00:00.000000

Hand-written. ``app_user.deactivated_at`` marks a user who left (the bot says only that
to them); ``invite.revoked_at`` an invitation withdrawn before use; ``key_rotation`` one
re-encryption of every encrypted column under a new key, so an interrupted
``baoxue key rotate`` is known to be unfinished and resumes with the same key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007_people_keys'
down_revision: str | None = '0006_sandbox_marker'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('app_user', sa.Column('deactivated_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                        nullable=True))
    op.add_column('invite', sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    op.create_table(
        'key_rotation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('new_key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('old_key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('values_done', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('key_rotation')
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
