"""Key rotation (``casework.keys``): the demo county seeded under one key, rotated to
another, then read with only the new key — every ID and phone number decrypts, every
lookup by ID or student number finds its child (the duplicate check of a new registration
too), drafts included; a rotation stopped after its first batch and run again ends where
one run straight through ends; an unfinished rotation is guarded.

Values written before ciphertexts carried a key id (bare Fernet tokens) are read and
rotated like the rest.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, String, type_coerce, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from casework import keys, ladder
from casework.clock import FrozenClock
from casework.context import Casework
from casework.errors import ValidationError
from casework.personal import SEALED_TAG, Cipher, configure_encryption, key_id, token_key_id
from casework.policy import Policy
from conversations.flows.fields import seal, unseal
from demo.county import seed_demo
from models import db
from models import types as model_types
from models.tables import ConversationState, Guardian, KeyRotation, Student, User
from tests.conftest import invoke

LEGACY_PHONE = "13900001111"  # invented
SEALED_PHONE = "13900002222"  # invented, typed into a draft


@pytest.fixture
def old_key(cipher_key: str) -> str:
    """The key the data is seeded under (conftest's cipher_key, put back afterwards)."""
    return cipher_key


@pytest.fixture
def seeded(engine: Engine, clock: FrozenClock, policy: Policy, old_key: str) -> dict[tuple[str, str, int], str]:
    """The demo county under ``old_key``, a draft, one value in the old bare-token format;
    returns every encrypted value's plaintext by (table, column, row id)."""
    with Session(engine, expire_on_commit=False) as session:
        world = seed_demo(session, clock, policy)
        user = world.users["teacher5"]
        session.add(ConversationState(user_id=user.id or 0, flow="report", step="id_number",
                                      draft={"id_number": "350425201501019966",
                                             "gphone": seal(SEALED_PHONE)},
                                      updated_at=clock.now()))
        session.commit()
    # a value stored before ciphertexts named their key: a bare Fernet token
    bare = Fernet(old_key).encrypt(LEGACY_PHONE.encode()).decode()
    with engine.begin() as conn:
        conn.execute(update(Guardian.__table__).where(Guardian.__table__.c.id == 1)  # type: ignore[attr-defined]
                     .values(phone=type_coerce(bare, String)))
    return plaintexts(engine)


def raw_values(engine: Engine) -> dict[tuple[str, str, int], str]:
    """Every stored ciphertext, as stored."""
    found = {}
    with engine.connect() as conn:
        for enc in keys.encrypted_columns():
            (pk,) = enc.table.primary_key.columns
            for key, token in conn.execute(sa_select(pk, type_coerce(enc.column, String))):
                if token is not None:
                    found[(enc.table.name, enc.column.name, key)] = token
    return found


def plaintexts(engine: Engine) -> dict[tuple[str, str, int], str]:
    """Every encrypted value decrypted by the installed cipher."""
    return {k: model_types.cipher().decrypt(v) for k, v in raw_values(engine).items()}


def hashes(engine: Engine) -> dict[int, tuple[str | None, str | None]]:
    with Session(engine) as s:
        return {st.id or 0: (st.id_number_hash, st.student_number_hash)
                for st in s.exec(select(Student))}


def assert_everything_reads_with_only(engine: Engine, key: str, expected: dict[tuple[str, str, int], str],
                                      clock: FrozenClock, policy: Policy) -> None:
    configure_encryption(key)  # the new key alone: what the processes run with afterwards
    new_id = key_id(key)
    raw = raw_values(engine)
    assert raw.keys() == expected.keys()
    assert {token_key_id(t) for t in raw.values()} == {new_id}
    assert plaintexts(engine) == expected
    assert expected[("guardian", "phone", 1)] == LEGACY_PHONE
    cipher = model_types.cipher()
    with Session(engine, expire_on_commit=False) as s:
        students = s.exec(select(Student)).all()
        assert len(students) == 396
        for student in students:  # through the ORM column type, and by lookup hash
            assert student.id_number == expected[("student", "id_number", student.id or 0)]
            assert student.id_number is not None and student.student_number is not None
            found = s.exec(select(Student).where(Student.id_number_hash == cipher.lookup_hash(student.id_number))).one()
            assert found.id == student.id
            found = s.exec(select(Student).where(
                Student.student_number_hash == cipher.lookup_hash(student.student_number))).one()
            assert found.id == student.id
        assert all(g.phone for g in s.exec(select(Guardian)).all())
        assert all(u.phone for u in s.exec(select(User)).all())
        draft = s.exec(select(ConversationState)).one().draft
        assert draft["id_number"] == "350425201501019966"
        # a number sealed into the draft (conversations.flows.fields) moved to the new key too
        assert token_key_id(draft["gphone"][SEALED_TAG]) == new_id
        assert unseal(draft["gphone"]) == SEALED_PHONE
        # the real search: registering a child whose ID number is taken is refused
        assert_registering_again_is_refused(s, students[7], clock, policy)


def assert_registering_again_is_refused(s: Session, taken: Student, clock: FrozenClock, policy: Policy) -> None:
    """The duplicate check of a new registration finds ``taken`` by its ID number."""
    cw = Casework(s, clock, policy)
    officer = s.exec(select(User).where(User.role == "admin")).first()
    assert officer is not None
    child = ladder.NewChild(name="测试", gender=taken.gender, birth_date=taken.birth_date,
                            village_id=1, guardian_name="测试家长", guardian_relation="father",
                            id_number=taken.id_number)
    with pytest.raises(ValidationError) as refused:
        ladder.report(cw, officer, ladder.ReportInput(new_child=child, reasons=("other",),
                                                      guardian_contact_checked=True))
    assert refused.value.text.render("en") == "A child with this ID number is already registered."
    s.rollback()


def test_a_rotation_leaves_every_value_readable_and_findable_with_only_the_new_key(
    engine: Engine, clock: FrozenClock, policy: Policy, old_key: str, seeded: dict[tuple[str, str, int], str]
) -> None:
    new_key = Cipher.generate_key()
    progress = keys.rotate(engine, Cipher(new_key, old_key), clock, batch_size=50)
    assert progress.finished and progress.values_done == len(seeded) + 1  # and the sealed draft value
    with Session(engine) as s:
        row = s.exec(select(KeyRotation)).one()
        assert (row.new_key_id, row.old_key_id) == (key_id(new_key), key_id(old_key))
        assert row.finished_at is not None and row.values_done == len(seeded) + 1
    assert_everything_reads_with_only(engine, new_key, seeded, clock, policy)
    # and the old key alone reads none of it
    with pytest.raises(ValueError, match="Cannot decrypt"):
        Cipher(old_key).decrypt(raw_values(engine)[("student", "id_number", 1)])
    assert keys.check_keys(engine, Cipher(old_key)) is not None
    assert keys.check_keys(engine, Cipher(new_key)) is None


class Stop(Exception):
    pass


def test_an_interrupted_rotation_resumes_and_ends_in_the_same_state(
    engine: Engine, clock: FrozenClock, policy: Policy, old_key: str, seeded: dict[tuple[str, str, int], str]
) -> None:
    new_key = Cipher.generate_key()
    both = Cipher(new_key, old_key)

    def crash(progress: keys.Progress) -> None:
        raise Stop  # right after the first batch was committed

    with pytest.raises(Stop):
        keys.rotate(engine, both, clock, batch_size=50, after_batch=crash)
    half = raw_values(engine)
    done_first = {k for k, t in half.items() if token_key_id(t) == key_id(new_key)}
    assert 0 < len(done_first) < len(half)
    # meanwhile: both keys read everything, and searches find rotated and unrotated rows
    configure_encryption(new_key, old_key)
    assert plaintexts(engine) == seeded
    with Session(engine) as s:
        for student in s.exec(select(Student)).all():
            assert student.id_number is not None
            hits = s.exec(select(Student).where(
                Student.id_number_hash.in_(both.lookup_hashes(student.id_number)))).all()  # type: ignore[union-attr]
            assert [h.id for h in hits] == [student.id]
        # the real search: a child registered again under an ID number not yet rotated
        pending = [st for st in s.exec(select(Student)).all()
                   if ("student", "id_number", st.id) not in done_first]
        assert pending
        assert_registering_again_is_refused(s, pending[0], clock, policy)
    # a process with one key only is refused, and so is a rotation to a third key
    assert "unfinished" in (keys.check_keys(engine, Cipher(old_key)) or "")
    assert "unfinished" in (keys.check_keys(engine, Cipher(new_key)) or "")
    assert keys.check_keys(engine, both) is None
    with pytest.raises(keys.RotationError, match="another key"):
        keys.rotate(engine, Cipher(Cipher.generate_key(), old_key), clock)

    resumed = keys.rotate(engine, both, clock, batch_size=50)
    assert resumed.finished and resumed.values_done == len(seeded) + 1
    after = raw_values(engine)
    assert all(after[k] == half[k] for k in done_first)  # done rows were skipped, not redone
    with Session(engine) as s:
        assert len(s.exec(select(KeyRotation)).all()) == 1
    # the same state a straight run reaches: same plaintexts, same hashes, all under the new key
    expected_hashes = {sid: (both.lookup_hash(seeded[("student", "id_number", sid)]),
                             both.lookup_hash(seeded[("student", "student_number", sid)]))
                       for sid in hashes(engine)}
    assert hashes(engine) == expected_hashes
    assert_everything_reads_with_only(engine, new_key, seeded, clock, policy)


def test_rotating_to_the_key_in_use_is_refused(engine: Engine, clock: FrozenClock, old_key: str) -> None:
    with pytest.raises(keys.RotationError, match="already in use"):
        keys.rotate(engine, Cipher(old_key), clock)
    with pytest.raises(keys.RotationError, match="already in use"):
        keys.rotate(engine, Cipher(old_key, old_key), clock)


def test_a_keyring_decrypts_under_either_key_and_encrypts_under_the_new() -> None:
    old, new = Cipher.generate_key(), Cipher.generate_key()
    under_old = Cipher(old).encrypt("350425201501019966")
    bare_old = Fernet(old).encrypt(b"13900001111").decode()
    ring = Cipher(new, old)
    assert ring.decrypt(under_old) == "350425201501019966"
    assert ring.decrypt(bare_old) == "13900001111"
    assert ring.decrypt_many([under_old, bare_old, ring.encrypt("x")]) == [
        "350425201501019966", "13900001111", "x"]
    assert token_key_id(ring.encrypt("x")) == key_id(new) and ring.is_current(ring.encrypt("x"))
    assert not ring.is_current(under_old) and not ring.is_current(bare_old)
    assert ring.lookup_hash("a") == Cipher(new).lookup_hash("a")
    assert ring.lookup_hashes("a") == [Cipher(new).lookup_hash("a"), Cipher(old).lookup_hash("a")]
    with pytest.raises(ValueError, match="Cannot decrypt"):
        Cipher(new).decrypt(under_old)
    with pytest.raises(ValueError, match="Cannot decrypt"):
        Cipher(new).decrypt_many([bare_old])


# --- at the command line ---------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_key_rotate_at_the_command_line_then_only_the_new_key_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from bot.settings import get_settings

    old_key = os.environ["ENCRYPTION_KEY"]
    assert invoke("demo", "seed").exit_code == 0
    missing = invoke("key", "rotate")
    assert missing.exit_code == 2 and "no new key" in missing.stderr

    new_key = Cipher.generate_key()
    monkeypatch.setenv("NEW_ENCRYPTION_KEY", new_key)
    get_settings.cache_clear()
    rotated = invoke("key", "rotate", "--batch-size", "100")
    assert rotated.exit_code == 0, rotated.output
    assert f"now under the new key (id {key_id(new_key)})" in rotated.stdout
    assert "Now set ENCRYPTION_KEY to the new key" in rotated.stdout
    assert new_key not in rotated.output and old_key not in rotated.output

    # the old key alone no longer starts; the new key alone does, and reads everything
    monkeypatch.delenv("NEW_ENCRYPTION_KEY")
    get_settings.cache_clear()
    refused = invoke("cases", "list")
    assert refused.exit_code == 2
    assert f"re-encrypted under key {key_id(new_key)}" in refused.stderr
    monkeypatch.setenv("ENCRYPTION_KEY", new_key)
    get_settings.cache_clear()
    assert invoke("cases", "list").exit_code == 0
    engine = db.make_engine(os.environ["DATABASE_URL"])
    try:
        assert {token_key_id(t) for t in raw_values(engine).values()} == {key_id(new_key)}
        with Session(engine) as s:
            assert all(st.id_number and st.student_number for st in s.exec(select(Student)))
            assert all(u.phone for u in s.exec(select(User)))
    finally:
        engine.dispose()


def test_a_value_neither_key_reads_stops_the_rotation_naming_the_row_not_the_value(
    engine: Engine, clock: FrozenClock, old_key: str, seeded: dict[tuple[str, str, int], str]
) -> None:
    stranger = Cipher(Cipher.generate_key()).encrypt("13911112222")
    with engine.begin() as conn:
        conn.execute(update(Guardian.__table__).where(Guardian.__table__.c.id == 5)  # type: ignore[attr-defined]
                     .values(phone=type_coerce(stranger, String)))
    new_key = Cipher.generate_key()
    with pytest.raises(keys.RotationError) as stopped:
        keys.rotate(engine, Cipher(new_key, old_key), clock, batch_size=50)
    assert str(stopped.value).startswith("guardian.phone of row 5 cannot be decrypted with either key")
    assert "13911112222" not in str(stopped.value) and new_key not in str(stopped.value)
    with Session(engine) as s:
        assert s.exec(select(KeyRotation)).one().finished_at is None
