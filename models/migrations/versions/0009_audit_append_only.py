"""audit_append_only: the audit table refuses UPDATE and DELETE

Revision ID: 0009_audit_append_only
Revises: 0008_transfer_request
Create Date: 2026-12-07 10:00:00.000000

Hand-written. ``audit_event`` records who saw and changed which child's data; a record
that can be edited or removed afterwards proves nothing, so the database itself refuses
it, whatever the application does. Nothing in the code updates or deletes audit rows.

- PostgreSQL: a row-level ``BEFORE UPDATE OR DELETE`` trigger raises. ``TRUNCATE`` (the
  test fixture's reset between tests) fires no row trigger and keeps working; revoking
  ``TRUNCATE`` from the application's role as well is the operator's choice.
- SQLite: two triggers ``RAISE(ABORT, …)``. A later migration that rebuilds the table
  (``batch_alter_table``) drops them with the old table and must create them again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009_audit_append_only'
down_revision: str | None = '0008_transfer_request'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_event is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_event_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
        """)
        op.execute("""
            CREATE TRIGGER audit_event_append_only
            BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
        """)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_event_no_{event.lower()}
                BEFORE {event} ON audit_event
                BEGIN
                    SELECT RAISE(ABORT, '{MESSAGE}: {event} refused');
                END
            """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
