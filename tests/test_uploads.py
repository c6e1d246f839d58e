"""An uploaded roster is read off the event loop, in a child process under hard limits:
another user is answered while a slow file is being read, and a file over a limit is
refused with a message naming the limit."""

from __future__ import annotations

import csv
import functools
import io
import time
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from telegram import Update

from casework.errors import ValidationError
from demo.county import invented_id_number
from documents import tabular
from documents.tabular import UploadLimits
from handlers import background, exports
from tests.botkit import speaking

HEADERS = ["学生姓名", "性别", "出生日期", "身份证号码", "年级", "班级", "监护人", "联系电话"]
MB = 1024 * 1024


def pupil(n: int) -> list[object]:
    birth = date(2013, 4, n)
    return ["张小" + "一二三四五六七八九"[n - 1], "男", birth, invented_id_number(birth, 300 + n, False), "七年级",
            "1班", "张大山", "13912345678"]


def xlsx(rows: list[list[object]], headers: list[object] = HEADERS) -> bytes:  # type: ignore[assignment]
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# readers run in the child process: module-level, so they can be sent there


def slow_read(flag: str, filename: str, data: bytes, limits: UploadLimits) -> tabular.Sheet:
    """Reads the file only once ``flag`` exists: a parse that takes as long as the test wants."""
    give_up = time.monotonic() + 60
    while not Path(flag).exists() and time.monotonic() < give_up:
        time.sleep(0.01)
    return tabular.read_table(filename, data, limits)


def greedy_read(filename: str, data: bytes, limits: UploadLimits) -> tabular.Sheet:
    """A parse that wants 2 GB."""
    hog = bytearray(2 * 1024 * MB)
    raise AssertionError(len(hog))


def refusal(data: bytes, limits: UploadLimits, filename: str = "roster.xlsx", **kw: Any) -> str:
    with pytest.raises(ValidationError) as err:
        tabular.parse_in_process(filename, data, limits, **kw)
    return err.value.render("en")


async def test_a_slow_upload_does_not_delay_another_users_reply(harness, world, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flag = tmp_path / "release"
    monkeypatch.setattr(exports, "PARSE", functools.partial(
        tabular.parse_in_process, reader=functools.partial(slow_read, str(flag))))
    app = harness.app

    async def queued(update: dict[str, Any]) -> None:
        # as in production: updates wait in the queue and are handled one at a time
        await app.update_queue.put(Update.de_json(update, app.bot))

    admin = speaking(harness, world.users["school_admin"], "en")
    teacher = speaking(harness, world.users["teacher"], "en")
    admin._deliver = teacher._deliver = queued
    await app.start()
    try:
        await admin.send_document(xlsx([pupil(1)]), filename="roster.xlsx")  # first in the queue
        await teacher.send("/help")
        assert await harness.tg.wait_until(lambda: bool(teacher.reply_texts), timeout=30)
        # the teacher has the answer while the roster is still being read
        assert admin.replies == [] and background.RUNNING
        flag.touch()
        assert await harness.tg.wait_until(lambda: bool(admin.replies), timeout=30)
        await background.wait()
        assert "roster.xlsx: 1 rows — 1 to add" in admin.last
    finally:
        await app.stop()


def test_each_limit_is_refused_by_name() -> None:
    small = UploadLimits(rows=3)
    assert refusal(xlsx([pupil(n) for n in range(1, 6)]), small) == (
        "A roster can have at most 3 rows; split the file.")
    assert refusal(xlsx([pupil(1)], HEADERS + ["备注"] * 4), UploadLimits(columns=10)) == (
        "A roster can have at most 10 columns; delete the columns that are not needed.")
    assert refusal(xlsx([pupil(n) for n in range(1, 6)]), UploadLimits(cells=30)) == (
        "A roster can have at most 30 filled cells; split the file.")
    # 3 MB of text that zips to a few KB: refused from the zip's directory, before parsing
    bomb = xlsx([[f"张{i}", "男", "x" * 30_000 + str(i)] for i in range(100)])
    assert len(bomb) < 1 * MB
    assert refusal(bomb, UploadLimits(uncompressed_bytes=2 * MB)) == (
        "This XLSX file unpacks to more than 2 MB; save only the roster sheet and send it again.")
    strings = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([pupil(1)]))) as src, zipfile.ZipFile(strings, "w", zipfile.ZIP_DEFLATED) as out:
        for member in src.infolist():
            out.writestr(member, src.read(member))
        out.writestr("xl/sharedStrings.xml", "<sst>" + "<si><t>张</t></si>" * 150_000 + "</sst>")
    assert refusal(strings.getvalue(), UploadLimits(shared_strings_bytes=1 * MB)) == (
        "The text in this XLSX file is larger than 1 MB; save only the roster sheet and send it again.")
    assert refusal(xlsx([pupil(1)]), UploadLimits(seconds=1), reader=functools.partial(slow_read, "/nonexistent")) == (
        "Reading this file took longer than 1 seconds; split it or save it again as a plain XLSX or CSV.")
    assert refusal(xlsx([pupil(1)]), UploadLimits(memory_bytes=256 * MB), reader=greedy_read) == (
        "Reading this file needs more than 256 MB of memory; split it or save it again as a plain XLSX or CSV.")
    with pytest.raises(ValidationError) as err:
        tabular.parse_in_process("roster.xlsx", xlsx([pupil(n) for n in range(1, 6)]), small)
    assert err.value.render("zh_Hans") == "花名册最多3行，请拆分文件后分别导入。"
    # within the limits the child reads the file as before
    assert [cells[0] for _n, cells in tabular.parse_in_process("roster.xlsx", xlsx([pupil(1)])).rows] == ["张小一"]


async def test_a_refusal_reaches_the_user_and_a_csv_field_over_the_limit_is_a_row_error(harness, world) -> None:  # type: ignore[no-untyped-def]
    admin = speaking(harness, world.users["school_admin"], "en")
    harness.services.upload_limits = UploadLimits(rows=2)
    await admin.send_document(xlsx([pupil(1), pupil(2), pupil(3)]), filename="roster.xlsx")
    await background.wait()
    assert admin.last == "A roster can have at most 2 rows; split the file."

    harness.services.upload_limits = UploadLimits()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADERS)
    writer.writerow([str(c) for c in pupil(1)])
    writer.writerow(["张小二", "男", "2013-04-02", "x" * (csv.field_size_limit() + 1), "七年级", "1班", "", ""])
    writer.writerow([str(c) for c in pupil(3)])
    await admin.send_document(text.getvalue().encode(), filename="roster.csv")
    await background.wait()
    assert admin.last.split("\n")[3:5] == [
        "roster.csv: 3 rows — 2 to add, 0 to update, 0 unchanged, 1 with errors.",
        f"Row 3 (—): a field is longer than {csv.field_size_limit()} characters",
    ]
