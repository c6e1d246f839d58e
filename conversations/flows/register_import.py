"""Import the household-register extract into the register of school-age children
(``/register``, the county officer).

    file ─ (the extract arrives as a document: handlers.child_register reads it, checks every row
            and shows the preview) ─ [summary] ─ Confirm → register.apply

All or nothing: a file with any bad row is not offered for Confirm; the bad rows are
listed, and the officer sends the corrected file. The rows wait for Confirm in the draft,
sealed like every ID number at rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from casework import register
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import CLAUSE_SEPARATOR, join
from casework.outbox import text_from_json, text_to_json
from conversations import engine
from conversations.engine import Flow, Step, Turn
from conversations.flows.fields import seal, unseal
from conversations.flows.roster import _jsonable

FLOW = "register"
MAX_ERROR_LINES = 25


def _file_prompt(turn: Turn) -> Text:
    return _("Send the household-register extract as an XLSX or CSV file, one row per child, with "
             "columns such as 户号, 户主姓名, 姓名, 性别, 出生日期, 身份证号, 乡镇, 村, 户籍地址 and, "
             "if known, 就读情况. Children outside 6–15 are left out.")


def _not_text(turn: Turn, value: str) -> Any:
    raise ValidationError("file", _("Please send the extract as a file (XLSX or CSV), not as text."))


def preview_lines(turn: Turn) -> list[str]:
    p = turn.draft.get("preview") or {}
    lines = [turn.t(_(
        "{file}: {total} rows — {add} to add, {update} to update, {same} unchanged, {skip} not of "
        "school age, {errors} with errors.", file=p.get("file", ""), total=p.get("total", 0),
        add=p.get("add", 0), update=p.get("update", 0), same=p.get("unchanged", 0),
        skip=p.get("skip", 0), errors=p.get("errors", 0)))]
    if p.get("ignored"):
        lines.append(turn.t(_("Columns not used: {columns}", columns=join(p["ignored"]))))
    separator = turn.t(Text(CLAUSE_SEPARATOR))
    for entry in p.get("error_lines", []):
        reasons = separator.join(turn.t(text_from_json(t)) for t in entry["reasons"])
        lines.append(turn.t(_("Row {row} ({name}): {reasons}", row=entry["row"], name=entry["name"],
                              reasons=reasons)))
    hidden = int(p.get("errors", 0)) - len(p.get("error_lines", []))
    if hidden > 0:
        lines.append(turn.t(_("…and {n} more rows with errors.", n=hidden)))
    return lines


def _finish(turn: Turn) -> None:
    d = turn.draft
    payload = json.loads(unseal(d["rows"]) or "{}")
    rows = [(int(n), cells) for n, cells in payload["rows"]]
    result = register.apply(turn.cw, turn.user, int(d["county"]), payload["headers"], rows,
                            d["fingerprint"])
    turn.replies.send(_(
        "Register updated: {add} children added, {update} updated, {same} unchanged, {skip} not of "
        "school age left out. The village cadres of villages with children who have no school and "
        "no case have been told.", add=result.count("add"), update=result.count("update"),
        same=result.count("unchanged"), skip=result.count("skip")))


def _begin(turn: Turn, args: dict[str, Any]) -> None:
    user = turn.user
    if user.scope_kind != "county" or user.scope_id is None:
        turn.replies.send(_("Only the county officer can import the register of school-age children."))
        engine.end(turn)
        return
    turn.draft["county"] = str(user.scope_id)


FLOW_DEF = engine.register(
    Flow(
        name=FLOW,
        title=_("Import the register of school-age children"),
        roles=frozenset({"county_officer"}),
        steps=(
            Step("file", _("Extract"), _file_prompt, "text", parse=_not_text, next=None,
                 editable=False, show=lambda t: "\n" + "\n".join(preview_lines(t))),
        ),
        finish=_finish,
        begin=_begin,
        summary_title=lambda t: _("Register of school-age children — preview"),
        personal_data=True,
    )
)


def conversation(turn: Turn) -> Any:
    conv = engine.active_conversation(turn)
    return conv if conv is not None and conv.flow == FLOW else None


def received(turn: Turn, filename: str, headers: Sequence[Any],
             rows: Sequence[tuple[int, Sequence[Any]]]) -> None:
    """The extract arrived: check it and show the preview (nothing is written yet)."""
    conv = conversation(turn)
    if conv is None:
        turn.replies.send(_("Send /register first, then the file."))
        return
    turn.conv, turn.flow = conv, FLOW_DEF
    clean_headers = [_jsonable(h) for h in headers]
    clean_rows = [(n, [_jsonable(c) for c in cells]) for n, cells in rows]
    try:
        plan = register.plan(turn.cw, turn.user, int(turn.draft["county"]), clean_headers, clean_rows)
    except ValidationError as err:
        engine.prompt(turn, err.text)
        return
    errors = [{"row": r.number, "name": r.name or "—", "reasons": [text_to_json(t) for t in r.errors]}
              for r in plan.errors]
    turn.draft["preview"] = {
        "file": filename, "total": len(plan.rows), "add": plan.count("add"),
        "update": plan.count("update"), "unchanged": plan.count("unchanged"),
        "skip": plan.count("skip"), "errors": len(errors), "ignored": list(plan.ignored)[:10],
        "error_lines": errors[:MAX_ERROR_LINES],
    }
    if not plan.importable:
        turn.draft.pop("rows", None)
        engine.save(turn)
        note = (_("Nothing was imported: correct the rows with errors and send the file again.")
                if plan.errors else _("Nothing in this file is new to the register."))
        turn.replies.send_text("\n".join([turn.t(note), *preview_lines(turn)]))
        engine.prompt(turn)
        return
    turn.draft["rows"] = seal(json.dumps({"headers": clean_headers, "rows": clean_rows}, ensure_ascii=False))
    turn.draft["fingerprint"] = plan.fingerprint()
    turn.draft["_visited"] = ["file"]
    conv.step = engine.SUMMARY
    engine.save(turn)
    engine.prompt(turn)

