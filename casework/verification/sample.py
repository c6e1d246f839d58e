"""The quarterly re-check (复核): the county officer draws a random sample of suspected,
confirmed and closed dropout cases, of a size they choose, as a round of its own (``source``
sample) that runs through the same disposition flow as a province's list."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import and_, or_
from sqlmodel import col, select

from casework import ledger, register_ledgers, states
from casework.context import Casework
from casework.errors import ValidationError
from casework.i18n import _
from casework.scope import student_units, visible_cases
from casework.verification import importing
from models.tables import Case, Student, User, VerificationEntry, VerificationRound
from models.types import cipher

HEADERS = ["姓名", "身份证号", "性别", "出生日期", "户籍地址", "来源/批次"]
ID_COLUMN = 1
# the cases of the 疑似辍学台账 and the 辍学台账 (the 2024 notice: suspected and confirmed
# dropouts are re-checked every quarter; the ledgers' own definition) and the closed ones:
# a closed case is re-checked to see the child really is where the closing said
LEDGERS = ("suspected", "dropout")
CLOSED_STATES = states.FINAL
MAX_SAMPLE = 2000


def draw_sample(cw: Casework, actor: User | None, *, size: int, name: str, due_on: date,
                county_id: int | None = None, rng: random.Random | None = None) -> importing.Imported:
    county = importing.check_importer(cw, actor, county_id)
    if not 1 <= size <= MAX_SAMPLE:
        raise ValidationError("size", _("The sample must have between 1 and {max} cases.", max=MAX_SAMPLE))
    if due_on <= cw.today():
        raise ValidationError("due_on", _("Give a date after today."))
    on_ledgers = [and_(*ledger.conditions(cw, None, register_ledgers.case_filter(kind))) for kind in LEDGERS]
    query = select(Case.id, Case.student_id).where(
        Case.county_id == county, or_(*on_ledgers, col(Case.state).in_(list(CLOSED_STATES))))
    if actor is not None:
        query = query.where(visible_cases(actor))
    pool = list(cw.session.exec(query.order_by(col(Case.id))).all())
    if not pool:
        raise ValidationError("size", _("There are no suspected, confirmed or closed cases to re-check."))
    picked = (rng or random.SystemRandom()).sample(pool, min(size, len(pool)))
    now = cw.now_db()
    rnd = VerificationRound(county_id=county, name=name, due_on=due_on, source="sample",
                            headers=list(HEADERS), id_column=ID_COLUMN,
                            created_by=actor.id if actor else None, created_at=now)
    cw.session.add(rnd)
    cw.session.flush()
    result = importing.Imported(rnd, len(picked), len(picked), 0, 0, 0, 0, 0, 0, 0, 0)
    for number, (case_id, student_id) in enumerate(sorted(picked), start=2):
        child = cw.session.get(Student, student_id)
        assert child is not None
        units = student_units(cw.session, child)
        entry = VerificationEntry(
            round_id=rnd.id or 0, row_number=number,
            cells=[child.name, "", {"male": "男", "female": "女"}.get(child.gender, ""),
                   child.birth_date.isoformat(), child.hukou_address or "", f"案件#{case_id}"],
            name=child.name, gender=child.gender, birth_date=child.birth_date, id_raw=child.id_number,
            id_number_hash=cipher().lookup_hash(child.id_number) if child.id_number else None,
            id_status="valid" if child.id_number else "missing", hukou_address=child.hukou_address,
            batch=f"案件#{case_id}", match="id", student_id=child.id, county_id=county,
            class_id=units["class_id"], school_id=units["school_id"], village_id=units["village_id"],
        )
        if entry.school_id is not None:
            entry.village_id = None  # the school verifies a pupil, as for a province's list
            result.to_school += 1
        else:
            result.to_village += 1
        from casework.scope import township_of

        entry.township_id = township_of(cw.session, "school", entry.school_id) if entry.school_id else \
            township_of(cw.session, "village", entry.village_id)
        cw.session.add(entry)
    cw.session.flush()
    importing.plan_reminders(cw, rnd)
    cw.audit(actor, "verification.sample", "verification_round", rnd.id, size=len(picked),
             cases=[c for c, _s in picked][:200])
    importing.notify_assigned(cw, rnd)
    return result
