"""Key rotation: every encrypted value re-encrypted, every lookup hash remade, under a new key.

``rotate`` walks each table with an encrypted column (found from the column types, so a
column added later is rotated too) in primary-key order, a batch at a time, and commits
each batch. A value already under the new key (its ciphertext carries the key's id, see
``casework.personal``) is left alone, so a rotation stopped half-way (a crash, Ctrl-C)
resumes where it stopped when run again, and ends in the same state as one run straight
through. A ``key_rotation`` row records the rotation: one to another key cannot start
while it is unfinished, and ``check_keys`` refuses to start a process that could not read
what is stored.

While it runs every process must hold both keys (``NEW_ENCRYPTION_KEY`` beside
``ENCRYPTION_KEY``): the cipher then encrypts with the new key and decrypts with either,
and searches match a value's hash under either key. When it has finished, the operator
sets ``ENCRYPTION_KEY`` to the new key and drops the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, Table, inspect, literal, type_coerce, update
from sqlalchemy import select as sa_select
from sqlalchemy.sql.schema import Column
from sqlmodel import Session, SQLModel, col, select

from casework.clock import Clock, to_db
from casework.personal import SEALED_TAG, Cipher
from models.tables import KeyRotation

BATCH_SIZE = 500
_ROTATION: Table = SQLModel.metadata.tables["key_rotation"]
_DRAFTS: Table = SQLModel.metadata.tables["conversation_state"]


class RotationError(RuntimeError):
    """The rotation cannot start or go on; the message says why (never a key or a value)."""


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: Column  # type: ignore[type-arg]
    hash_column: str | None


def encrypted_columns() -> list[EncryptedColumn]:
    """Every column of every table that holds ciphertext, in a stable order."""
    found: list[EncryptedColumn] = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if getattr(column.type, "encrypted_at_rest", False):
                found.append(EncryptedColumn(table, column, column.info.get("lookup_hash")))
    return found


@dataclass
class Progress:
    rotation_id: int
    values_done: int
    batches: int
    finished: bool


def unfinished(session: Session) -> KeyRotation | None:
    return session.exec(
        select(KeyRotation).where(col(KeyRotation.finished_at).is_(None)).order_by(col(KeyRotation.id))
    ).first()


def latest(session: Session) -> KeyRotation | None:
    return session.exec(select(KeyRotation).order_by(col(KeyRotation.id).desc())).first()


def _begin(engine: Engine, cipher: Cipher, clock: Clock) -> KeyRotation:
    """The rotation row to this key: the unfinished one, or a new one."""
    new_id, key_ids = cipher.key_id, cipher.key_ids
    if len(key_ids) < 2 or key_ids[1] == new_id:
        raise RotationError("The new key is the key already in use: nothing to rotate.")
    with Session(engine, expire_on_commit=False) as session:
        open_row = unfinished(session)
        if open_row is not None:
            if open_row.new_key_id != new_id:
                raise RotationError(
                    f"A rotation to another key (id {open_row.new_key_id}) is unfinished. "
                    "Finish it first: run this command again with that key as the new key."
                )
            return open_row
        now = to_db(clock.now())
        row = KeyRotation(new_key_id=new_id, old_key_id=key_ids[1], started_at=now, updated_at=now)
        session.add(row)
        session.commit()
        return row


def _batch_query(enc: list[EncryptedColumn], table: Table, after: Any, batch_size: int) -> Any:
    """The next rows of the table (primary key and raw ciphertexts), locked until the
    batch commits: a process writing one of them meanwhile waits, so its new value is
    never overwritten with the re-encrypted old one. (SQLite: the write transaction,
    BEGIN IMMEDIATE, keeps every other writer out.)"""
    (pk,) = table.primary_key.columns
    # read as stored: the column type would decrypt
    raw = [type_coerce(c.column, String).label(c.column.name) for c in enc]
    query = sa_select(pk, *raw).order_by(pk).limit(batch_size).with_for_update()
    return query if after is None else query.where(pk > after)


def rotate(
    engine: Engine,
    cipher: Cipher,
    clock: Clock,
    *,
    batch_size: int = BATCH_SIZE,
    after_batch: Callable[[Progress], None] | None = None,
) -> Progress:
    """Re-encrypt every encrypted value and remake every lookup hash under ``cipher``'s
    current key; ``cipher`` must also hold the old key. ``after_batch`` is called after
    each committed batch (progress output; a test stops the rotation there)."""
    row = _begin(engine, cipher, clock)
    assert row.id is not None
    progress = Progress(row.id, row.values_done, 0, False)
    by_table: dict[str, list[EncryptedColumn]] = {}
    for enc in encrypted_columns():
        by_table.setdefault(enc.table.name, []).append(enc)
    for columns in by_table.values():
        table = columns[0].table
        (pk,) = table.primary_key.columns
        last: Any = None
        while True:
            changed = 0
            with engine.begin() as conn:
                rows = [tuple(r) for r in conn.execute(_batch_query(columns, table, last, batch_size))]
                if not rows:
                    break
                last = rows[-1][0]
                for key, *tokens in rows:
                    values: dict[str, object] = {}
                    for enc, token in zip(columns, tokens, strict=True):
                        if token is None or not isinstance(token, str) or cipher.is_current(token):
                            continue
                        try:
                            plain = cipher.decrypt(token)
                        except ValueError:
                            raise RotationError(
                                f"{table.name}.{enc.column.name} of row {key} cannot be "
                                "decrypted with either key; this batch was left as it was, "
                                "the batches before it stay done."
                            ) from None
                        values[enc.column.name] = cipher.encrypt(plain)
                        if enc.hash_column:
                            values[enc.hash_column] = cipher.lookup_hash(plain)
                        changed += 1
                    if values:
                        # raw values: the column type would encrypt them a second time
                        conn.execute(
                            update(table).where(pk == key).values(
                                {name: _raw_value(table, name, v) for name, v in values.items()}
                            )
                        )
                progress.values_done += changed
                progress.batches += 1
                conn.execute(
                    update(_ROTATION).where(_ROTATION.c.id == row.id)
                    .values(values_done=progress.values_done, updated_at=to_db(clock.now()))
                )
            if after_batch is not None:
                after_batch(progress)
    _reseal_drafts(engine, cipher, progress, batch_size, row.id, clock)
    with engine.begin() as conn:
        conn.execute(
            update(_ROTATION).where(_ROTATION.c.id == row.id)
            .values(finished_at=to_db(clock.now()), updated_at=to_db(clock.now()))
        )
    progress.finished = True
    return progress


def _reseal(value: Any, cipher: Cipher) -> tuple[Any, int]:
    """``value`` (a draft's JSON) with every sealed value under the current key."""
    if isinstance(value, dict):
        token = value.get(SEALED_TAG)
        if len(value) == 1 and isinstance(token, str):
            if cipher.is_current(token):
                return value, 0
            try:
                return {SEALED_TAG: cipher.encrypt(cipher.decrypt(token))}, 1
            except ValueError:
                # a draft nobody can read any more is useless; its owner types it again
                return None, 1
        out: dict[str, Any] = {}
        changed = 0
        for key, item in value.items():
            out[key], n = _reseal(item, cipher)
            changed += n
        return out, changed
    if isinstance(value, list):
        items = [_reseal(item, cipher) for item in value]
        return [v for v, _n in items], sum(n for _v, n in items)
    return value, 0


def _reseal_drafts(
    engine: Engine, cipher: Cipher, progress: Progress, batch_size: int, rotation_id: int,
    clock: Clock,
) -> None:
    """Drafts are JSON, not encrypted columns: the ID and phone numbers sealed into them
    (``SEALED_TAG``) are re-encrypted one draft at a time, under the same row locks."""
    table = _DRAFTS
    last: Any = None
    while True:
        with engine.begin() as conn:
            query = (sa_select(table.c.id, table.c.draft).order_by(table.c.id)
                     .limit(batch_size).with_for_update())
            if last is not None:
                query = query.where(table.c.id > last)
            rows = list(conn.execute(query))
            if not rows:
                return
            last = rows[-1][0]
            for key, draft in rows:
                resealed, changed = _reseal(draft, cipher)
                if changed:
                    conn.execute(update(table).where(table.c.id == key).values(draft=resealed))
                    progress.values_done += changed
            conn.execute(
                update(_ROTATION).where(_ROTATION.c.id == rotation_id)
                .values(values_done=progress.values_done, updated_at=to_db(clock.now()))
            )


def _raw_value(table: Table, name: str, value: object) -> object:
    column = table.c[name]
    if getattr(column.type, "encrypted_at_rest", False):
        return literal(value, String)
    return value


def check_keys(engine: Engine, cipher: Cipher) -> str | None:
    """Why this process cannot read what is stored, or None.

    An unfinished rotation needs both its keys; a finished one needs its new key (a
    process still on the old key alone would fail on every value).
    """
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        return None  # no database yet: nothing stored (and connecting would create the file)
    if not inspect(engine).has_table(KeyRotation.__tablename__):
        return None
    with Session(engine) as session:
        last = latest(session)
    if last is None:
        return None
    held = set(cipher.key_ids)
    if last.finished_at is None:
        missing = {last.new_key_id, last.old_key_id} - held
        if missing:
            return (
                f"A key rotation (from key {last.old_key_id} to key {last.new_key_id}) is "
                "unfinished: every process needs both keys, ENCRYPTION_KEY (the old) and "
                "NEW_ENCRYPTION_KEY (the new). Then finish it with: baoxue key rotate"
            )
        return None
    if last.new_key_id not in held:
        return (
            f"The data was re-encrypted under key {last.new_key_id}, which this process does "
            "not have: set ENCRYPTION_KEY to that key."
        )
    return None
