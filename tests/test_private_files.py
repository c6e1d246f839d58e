"""Files holding personal data or the key are the owner's alone, and command-line exports
say who made them.

- ``baoxue export`` writes the ledger (``--full`` or not), forms and reports with mode
  0600, also over an existing file that was readable by all;
- a new SQLite database (and its WAL) is created 0600;
- the development key is created 0600 in one step, and a key file another process made
  meanwhile is used, never overwritten;
- each export's audit row names the operator: the OS account, or the bot user of
  ``--as``.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot.private_files import create_once
from bot.runtime import encryption_key
from bot.settings import Settings
from casework.personal import Cipher
from models import db
from models.tables import AuditEvent
from tests.conftest import invoke


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: modes come from the code, not from the environment."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def exports(url: str) -> list[AuditEvent]:
    with Session(db.make_engine(url)) as s:
        return list(s.exec(select(AuditEvent).where(
            col(AuditEvent.action).in_(["ledger.export", "case.document", "report.export"])
        ).order_by(col(AuditEvent.id))).all())


def test_exports_are_written_0600_and_audited_with_the_operator(
    env: pytest.MonkeyPatch, database_url: str, tmp_path: Path, open_umask: None
) -> None:
    assert invoke("demo", "seed").exit_code == 0
    ledger, form, report = tmp_path / "full.xlsx", tmp_path / "t5.pdf", tmp_path / "m.xlsx"
    ledger.write_bytes(b"old")
    ledger.chmod(0o644)  # an earlier file anyone could read
    assert invoke("export", "ledger", "--full", "-o", str(ledger)).exit_code == 0
    assert invoke("export", "form", "9", "report", "--full", "-o", str(form)).exit_code == 0
    assert invoke("export", "report", "month", "-o", str(report)).exit_code == 0
    assert {p.name: mode(p) for p in (ledger, form, report)} == dict.fromkeys(
        ("full.xlsx", "t5.pdf", "m.xlsx"), 0o600)
    assert ledger.read_bytes().startswith(b"PK")  # the workbook, not the old bytes

    me = f"os:{getpass.getuser()}"
    rows = exports(database_url)
    assert [(r.action, r.actor_id, r.detail["operator"]) for r in rows] == [
        ("ledger.export", None, me), ("case.document", None, me), ("report.export", None, me)]
    assert rows[0].detail["via"] == "cli" and rows[0].detail["disclosure"] == "full"

    masked = tmp_path / "masked.xlsx"
    assert invoke("export", "ledger", "--as", "1", "-o", str(masked)).exit_code == 0
    assert mode(masked) == 0o600
    last = exports(database_url)[-1]
    assert (last.action, last.actor_id, last.detail["operator"], last.detail["via"]) == (
        "ledger.export", 1, "user:1", "cli")

    nobody = invoke("export", "ledger", "--as", "nobody", "-o", str(tmp_path / "x.xlsx"))
    assert nobody.exit_code == 2 and "no such user" in nobody.output
    assert not (tmp_path / "x.xlsx").exists()
    assert len(exports(database_url)) == 4


def test_a_new_sqlite_database_is_created_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "new.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with engine.connect() as conn:  # WAL: the -wal file exists while a connection is open
        conn.exec_driver_sql("SELECT 1").all()
        wal = tmp_path / "new.db-wal"
        assert mode(path) == 0o600
        assert not wal.exists() or mode(wal) == 0o600
    engine.dispose()


def test_the_development_key_is_created_0600_and_never_overwritten(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / ".baoxue-dev-key"
    settings = Settings(dev_key_file=key_file, encryption_key=None)
    key = encryption_key(settings)
    assert mode(key_file) == 0o600 and key_file.read_text() == key + "\n"
    Cipher(key)  # a usable key
    assert encryption_key(settings) == key
    assert [p.name for p in tmp_path.iterdir()] == [".baoxue-dev-key"]  # no temporary left

    # another process made the file between our look and our write: theirs is used
    theirs = Cipher.generate_key()
    raced = tmp_path / "raced-key"
    real_exists = Path.exists

    def exists_late(self: Path, *args: object, **kwargs: object) -> bool:
        if self == raced and not real_exists(self):
            self.write_text(theirs + "\n")
            return False
        return real_exists(self)

    monkeypatch.setattr(Path, "exists", exists_late)
    assert encryption_key(Settings(dev_key_file=raced, encryption_key=None)) == theirs
    assert raced.read_text() == theirs + "\n"
    assert not create_once(raced, b"other")
    assert raced.read_text() == theirs + "\n"


def test_without_hard_links_the_key_is_created_in_place(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object) -> None:
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "key"
    assert create_once(path, b"one")
    assert not create_once(path, b"two")
    assert (path.read_bytes(), mode(path)) == (b"one", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["key"]
