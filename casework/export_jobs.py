"""Background exports kept in the database (``export_job``): the job, its progress and the
finished file, so that whichever web worker a request reaches shows the progress and
serves the file (several ``baoxue web`` workers share nothing but the database).

Why the file is kept in the database rather than on disk: the database is the one thing
every worker is sure to share (workers may run in separate containers or on separate
hosts; there is no shared data directory in the settings), a ledger is a few megabytes at
county size, and a job is deleted with its file :data:`KEEP` after it was started.

A job belongs to the user who started it: another user's key is "not found". A job whose
worker stopped (restarted, killed) while making it stops reporting progress; after
:data:`STALE` without news it reads as failed, and its owner starts another.

The maker (a thread of the worker that took the request) reports through :func:`progress`,
:func:`finish` and :func:`fail`, each in a short unit of work of its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from casework.clock import from_db
from casework.context import Casework
from casework.errors import NotFound
from casework.i18n import Text, _
from models.tables import ExportJob, User

KEEP = timedelta(days=1)
STALE = timedelta(minutes=10)
SHOWN = 20  # a user's latest jobs listed on the Exports page


@dataclass(frozen=True)
class JobView:
    """What a page shows of a job (never its file)."""

    key: str
    kind: str
    status: str  # running | done | failed
    pct: int
    rows: int
    name: str
    error: str | Text | None

    @property
    def ready(self) -> bool:
        return self.status == "done"

    @property
    def running(self) -> bool:
        return self.status == "running"


LOST = _("The export stopped before it was finished (the server was restarted). Start it again.")
_VIEW_COLUMNS: tuple[Any, ...] = tuple(col(c) for c in (
    ExportJob.key, ExportJob.kind, ExportJob.status, ExportJob.pct, ExportJob.rows, ExportJob.name,
    ExportJob.error, ExportJob.updated_at))


def _view(cw: Casework, row: Any) -> JobView:
    key, kind, status, pct, rows, name, error, updated_at = row
    lost = status == "running" and from_db(updated_at) < cw.now() - STALE
    return JobView(key, kind, "failed" if lost else status, pct, rows, name, LOST if lost else error)


def start(cw: Casework, actor: User, kind: str) -> str:
    """A new job of ``actor``'s, running; its key. Jobs older than :data:`KEEP` (anyone's)
    are deleted with their files."""
    now = cw.now()
    cw.session.execute(delete(ExportJob).where(col(ExportJob.created_at) < now - KEEP))
    key = secrets.token_urlsafe(18)
    assert actor.id is not None
    cw.session.add(ExportJob(key=key, user_id=actor.id, kind=kind, created_at=now, updated_at=now))
    cw.session.flush()
    return key


def mine(cw: Casework, actor: User) -> list[tuple[str, JobView]]:
    """The actor's latest jobs, newest first, as (key, view)."""
    rows = cw.session.execute(
        sa_select(*_VIEW_COLUMNS).where(col(ExportJob.user_id) == actor.id)
        .order_by(col(ExportJob.id).desc()).limit(SHOWN)
    ).all()
    return [(r[0], _view(cw, r)) for r in rows]


def view(cw: Casework, actor: User, key: str) -> JobView:
    """One of the actor's jobs (NotFound for a key that is not theirs, or gone)."""
    row = cw.session.execute(
        sa_select(*_VIEW_COLUMNS).where(col(ExportJob.key) == key, col(ExportJob.user_id) == actor.id)
    ).first()
    if row is None:
        raise NotFound(_("This export is not there (any more)."))
    return _view(cw, row)


def file(cw: Casework, actor: User, key: str) -> tuple[str, bytes]:
    """A finished job's file (name, bytes); NotFound if not theirs or not ready."""
    row = cw.session.exec(
        select(ExportJob.name, ExportJob.data).where(
            ExportJob.key == key, ExportJob.user_id == actor.id, ExportJob.status == "done")
    ).first()
    if row is None or row[1] is None:
        raise NotFound(_("This export is not there (any more)."))
    return row[0], row[1]


def progress(cw: Casework, key: str, pct: int) -> None:
    cw.session.execute(update(ExportJob).where(col(ExportJob.key) == key, col(ExportJob.status) == "running")
                       .values(pct=min(99, max(0, pct)), updated_at=cw.now()))


def finish(cw: Casework, key: str, name: str, rows: int, data: bytes) -> None:
    now = cw.now()
    cw.session.execute(update(ExportJob).where(col(ExportJob.key) == key).values(
        status="done", pct=100, name=name, rows=rows, data=data, updated_at=now, finished_at=now))


def fail(cw: Casework, key: str, error: str) -> None:
    now = cw.now()
    cw.session.execute(update(ExportJob).where(col(ExportJob.key) == key).values(
        status="failed", error=error[:300], updated_at=now, finished_at=now))
