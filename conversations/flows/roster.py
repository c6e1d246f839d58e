"""Import a school's roster (XLSX or CSV from the student register).

    school ─ (a school admin's own; an officer picks one in their area)
       └─ file ─ (the file arrives as a document: handlers.exports reads it, checks every
                  row and shows the preview) ─ [summary] ─ Confirm → roster_import.apply

The rows wait for Confirm in the conversation's draft, encrypted with the same key as
every other ID and phone number at rest; Confirm checks them again and imports all valid
rows in one transaction, or nothing if anything changed since the preview.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from casework import roster_import, transfers
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import CLAUSE_SEPARATOR, LIST_SEPARATOR, join
from casework.outbox import text_from_json, text_to_json
from conversations import engine
from conversations.engine import Flow, Option, Step, Turn
from conversations.flows.fields import seal, unseal
from models.tables import ConversationState, School, Township

FLOW = "roster"
MAX_ERROR_LINES = 25
MAX_UPDATE_LINES = 10


def schools_in_scope(turn: Turn) -> list[School]:
    user = turn.user
    query = select(School).order_by(col(School.id))
    if user.scope_kind == "school":
        query = query.where(School.id == user.scope_id)
    elif user.scope_kind == "township":
        query = query.where(School.township_id == user.scope_id)
    elif user.scope_kind == "county":
        query = query.where(
            col(School.township_id).in_(select(Township.id).where(Township.county_id == user.scope_id))
        )
    elif not (user.role == "admin" and user.scope_kind == "all"):
        return []
    return list(turn.cw.session.exec(query).all())


def _school_options(turn: Turn) -> list[Option]:
    return [Option(str(s.id), Text("{name}", {"name": s.name})) for s in schools_in_scope(turn)]


def _school_name(turn: Turn) -> str:
    school = turn.cw.session.get(School, int(turn.draft.get("school") or 0))
    return school.name if school else "—"


def _begin(turn: Turn, args: dict[str, Any]) -> None:
    schools = schools_in_scope(turn)
    if not schools:
        turn.replies.send(_("There is no school in your area to import a roster for."))
        engine.end(turn)
        return
    if len(schools) == 1:
        turn.draft["school"] = str(schools[0].id)
        turn.draft["_visited"] = ["school"]
        assert turn.conv is not None
        turn.conv.step = "file"


def _file_prompt(turn: Turn) -> Text:
    return _(
        "Send the roster of {school} as an XLSX or CSV file: the export of the student "
        "register, one row per student, with columns such as 姓名, 性别, 出生日期, 身份证号, "
        "学籍号, 年级, 班级, 监护人, 联系电话, 家庭住址 (English column names work too).",
        school=_school_name(turn),
    )


def _not_text(turn: Turn, value: str) -> Any:
    raise ValidationError("file", _("Please send the roster as a file (XLSX or CSV), not as text."))


def preview_lines(turn: Turn) -> list[str]:
    """The preview as the person reads it: counts, then every row with errors (up to a
    limit) and why, then what will be updated."""
    p = turn.draft.get("preview") or {}
    lines = [
        turn.t(
            _(
                "{file}: {total} rows — {add} to add, {update} to update, {same} unchanged, "
                "{errors} with errors.",
                file=p.get("file", ""),
                total=p.get("total", 0),
                add=p.get("add", 0),
                update=p.get("update", 0),
                same=p.get("unchanged", 0),
                errors=p.get("errors", 0),
            )
        )
    ]
    for entry in p.get("transfer_lines", []):
        lines.append(turn.t(_("Row {row} ({name}): {reason}", row=entry["row"], name=entry["name"],
                              reason=transfers.NEEDS_CONFIRMATION)))
    if p.get("transfers"):
        lines.append(turn.t(_("On Confirm, the other unit is asked to accept these rows; you are told "
                              "when it answers.")))
    if p.get("ignored"):
        lines.append(turn.t(_("Columns not used: {columns}", columns=join(p["ignored"]))))
    separator = turn.t(Text(CLAUSE_SEPARATOR))
    for entry in p.get("error_lines", []):
        reasons = separator.join(turn.t(text_from_json(t)) for t in entry["reasons"])
        lines.append(
            turn.t(_("Row {row} ({name}): {reasons}", row=entry["row"], name=entry["name"],
                     reasons=reasons))
        )
    hidden = int(p.get("errors", 0)) - len(p.get("error_lines", []))
    if hidden > 0:
        lines.append(turn.t(_("…and {n} more rows with errors.", n=hidden)))
    list_separator = turn.t(Text(LIST_SEPARATOR))
    for entry in p.get("update_lines", []):
        fields = list_separator.join(turn.t(Text(f)) for f in entry["fields"])
        lines.append(
            turn.t(_("Row {row} ({name}): will update {fields}", row=entry["row"],
                     name=entry["name"], fields=fields))
        )
    if p.get("errors"):
        lines.append(
            turn.t(_("Rows with errors are not imported: correct them and send the file again."))
        )
    return lines


def _show_preview(turn: Turn) -> str:
    return "\n" + "\n".join(preview_lines(turn))


def _finish(turn: Turn) -> None:
    d = turn.draft
    payload = json.loads(unseal(d["rows"]) or "{}")
    rows = [(int(n), cells) for n, cells in payload["rows"]]
    result = roster_import.apply(
        turn.cw, turn.user, int(d["school"]), payload["headers"], rows, d["fingerprint"]
    )
    turn.replies.send(
        _(
            "Roster imported into {school}: {add} added, {update} updated, {same} unchanged; "
            "{errors} rows with errors were left out.",
            school=result.school,
            add=result.count("add"),
            update=result.count("update"),
            same=result.count("unchanged"),
            errors=result.count("error") + int((d.get("preview") or {}).get("unreadable", 0)),
        )
    )
    if result.count("transfer"):
        turn.replies.send(
            _("{n} rows need confirmation from another unit: it has been asked, and you will be "
              "told when it answers.", n=result.count("transfer"))
        )


FLOW_DEF = engine.register(
    Flow(
        name=FLOW,
        title=_("Import a roster"),
        roles=roster_import.IMPORT_ROLES,
        steps=(
            Step("school", _("School"), lambda t: _("Which school is the roster for?"), "choice",
                 options=_school_options, next="file", editable=False, show=_school_name),
            Step("file", _("Roster"), _file_prompt, "text", parse=_not_text, next=None,
                 editable=False, show=_show_preview),
        ),
        finish=_finish,
        begin=_begin,
        summary_title=lambda t: _("Roster for {school} — preview", school=_school_name(t)),
        personal_data=True,
    )
)


# --- called by handlers.exports when a roster file arrives --------------------------------


def roster_conversation(turn: Turn) -> ConversationState | None:
    conv = engine.active_conversation(turn)
    return conv if conv is not None and conv.flow == FLOW else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def received(
    turn: Turn,
    filename: str,
    headers: Sequence[Any],
    rows: Sequence[tuple[int, Sequence[Any]]],
    *,
    bad_rows: Sequence[tuple[int, int]] = (),
) -> None:
    """A roster file arrived: check it and show the preview (nothing is written yet).

    ``bad_rows`` are rows the file reader could not read at all (row number, the longest
    field it allows): listed with the rows in error, never imported."""
    conv = roster_conversation(turn)
    if conv is None:
        asked = len(turn.replies.actions)
        engine.start(turn, FLOW)
        conv = roster_conversation(turn)
        if conv is None:  # refused (no school in scope): the refusal is the answer
            return
        if conv.step == "file":  # the file is already here: do not ask for it
            del turn.replies.actions[asked:]
            turn.replies.send(engine.retention_notice(turn))
    turn.conv, turn.flow = conv, FLOW_DEF
    if not turn.draft.get("school"):
        engine.prompt(turn, _("First choose the school, then send the file again."))
        return
    clean_headers = [_jsonable(h) for h in headers]
    clean_rows = [(n, [_jsonable(c) for c in cells]) for n, cells in rows]
    try:
        plan = roster_import.plan(turn.cw, turn.user, int(turn.draft["school"]), clean_headers, clean_rows)
    except ValidationError as err:
        conv.step = "file"
        engine.prompt(turn, err.text)
        return
    unreadable = [
        (number, _("a field is longer than {max} characters", max=limit)) for number, limit in bad_rows
    ]
    error_entries: list[dict[str, Any]] = (
        [{"row": r.number, "name": r.name or "—", "reasons": [text_to_json(t) for t in r.errors]}
         for r in plan.errors]
        + [{"row": number, "name": "—", "reasons": [text_to_json(why)]} for number, why in unreadable]
    )
    error_lines = sorted(error_entries, key=lambda entry: int(entry["row"]))[:MAX_ERROR_LINES]
    update_lines = [
        {"row": r.number, "name": r.name,
         "fields": [roster_import.FIELD_LABELS.get(f, f) for f in r.changes]}
        for r in plan.rows
        if r.action == "update"
    ][:MAX_UPDATE_LINES]
    transfer_lines = [
        {"row": r.number, "name": r.name} for r in plan.rows if r.action == "transfer"
    ][:MAX_ERROR_LINES]
    turn.draft["preview"] = {
        "file": filename,
        "total": len(plan.rows) + len(unreadable),
        "add": plan.count("add"),
        "update": plan.count("update"),
        "unchanged": plan.count("unchanged"),
        "errors": plan.count("error") + len(unreadable),
        "unreadable": len(unreadable),
        "transfers": plan.count("transfer"),
        "transfer_lines": transfer_lines,
        "ignored": list(plan.header.ignored)[:10],
        "error_lines": error_lines,
        "update_lines": update_lines,
    }
    if not plan.actionable:
        conv.step = "file"
        turn.draft.pop("rows", None)
        engine.save(turn)
        note = _("Nothing in this file can be imported yet:")
        turn.replies.send_text("\n".join([turn.t(note), *preview_lines(turn)]))
        engine.prompt(turn)
        return
    turn.draft["rows"] = seal(json.dumps({"headers": clean_headers, "rows": clean_rows}, ensure_ascii=False))
    turn.draft["fingerprint"] = plan.fingerprint()
    visited = list(turn.draft.get("_visited", []))
    turn.draft["_visited"] = [*visited, *(s for s in ("school", "file") if s not in visited)]
    conv.step = engine.SUMMARY
    engine.save(turn)
    engine.prompt(turn)

