"""The reports a profile requires go to the bodies its seed names (issue #11), through the
scheduler's tick and the fake Bot API.

lipu (seed 004 五(一) "各学校要继续执行日报、周报、月报制度……及时上报市教育局和当地乡镇人民
政府"; 四(一) "学校要报告乡镇政府和市教育局"): on the day each is due, the daily and weekly
digests and the monthly report reach the township officer and the 市教育局's person, each
counting only their own area (the township its cases, the bureau the whole city); a teacher
gets none of them.
"""

from __future__ import annotations

from datetime import date

import pytest

from casework import ladder
from casework.policy import load_named
from models.tables import Student
from tests.botkit import act, deliver_outbox, shanghai_at, speaking, tick_at

pytestmark = pytest.mark.parametrize("policy", [load_named("lipu")], ids=["lipu"])


def _report(harness, world, pupil: Student) -> None:  # type: ignore[no-untyped-def]
    """A case reported this morning (by the county officer, who sees every school)."""
    act(harness, lambda cw: ladder.report(cw, world.users["county_officer"], ladder.ReportInput(
        student_id=pupil.id, reasons=("learning",))))


async def test_lipus_daily_weekly_and_monthly_reports_reach_the_township_and_the_city_bureau(harness, world) -> None:  # type: ignore[no-untyped-def]
    u = world.users
    township = speaking(harness, u["township_officer"], "zh_Hans")  # 梅林镇
    # 市教育局, the whole city (read in English: both languages are checked)
    bureau = speaking(harness, u["city_bureau"], "en")
    teacher = speaking(harness, u["teacher"], "zh_Hans")
    # the bureau's own county officer: 荔浦's 市教育局 is the county bureau
    county = speaking(harness, u["county_officer"], "zh_Hans")
    _report(harness, world, world.students_of_class(world.classes[4])[0])  # 梅林中学
    _report(harness, world, world.students_of_class(world.classes[10])[0])  # 石桥九年制学校
    await deliver_outbox(harness)
    seen = {c: len(harness.tg.bot_messages(c.chat_id)) for c in (township, bureau, teacher, county)}

    def new(chat) -> list[str]:  # type: ignore[no-untyped-def]
        texts = [m.content for m in harness.tg.bot_messages(chat.chat_id)[seen[chat]:]]
        seen[chat] += len(texts)
        return texts

    # Mon 23 Nov, 18:00: the daily report (日报)
    tick_at(harness, shanghai_at(date(2026, 11, 23), 18, 0))
    await deliver_outbox(harness)
    (daily,) = [t for t in new(township) if t.startswith("每日汇总")]
    assert daily.startswith("每日汇总：梅林镇，11月20日 18:00至11月23日 18:00\n"), daily
    assert "本期：新增1人，" in daily and "石桥" not in daily  # only the township's case
    (daily,) = [t for t in new(bureau) if t.startswith("Daily digest")]
    assert daily.startswith("Daily digest, 青松县, Nov 20 18:00 to Nov 23 18:00\n"), daily
    assert "In this period: 2 new," in daily  # the city's two
    assert not [t for t in new(teacher) if "汇总" in t or "月报" in t]

    # Mon 30 Nov, 08:30: the weekly report (周报), to the township as well as the bureau
    tick_at(harness, shanghai_at(date(2026, 11, 30), 8, 30))
    await deliver_outbox(harness)
    (weekly,) = [t for t in new(township) if t.startswith("每周汇总")]
    assert weekly.startswith("每周汇总：梅林镇，11月23日 08:30至11月30日 08:30\n"), weekly
    assert "本期：新增1人，" in weekly
    (weekly,) = [t for t in new(bureau) if t.startswith("Weekly digest")]
    assert weekly.startswith("Weekly digest, 青松县, Nov 23 08:30 to Nov 30 08:30\n"), weekly
    assert "In this period: 2 new," in weekly

    # Tue 1 Dec, 08:30: November's monthly report (月报), with its workbook
    tick_at(harness, shanghai_at(date(2026, 12, 1), 8, 30))
    await deliver_outbox(harness)
    township_month = [t for t in new(township) if "月报" in t]
    assert township_month[0].startswith("梅林镇控辍保学月报（2026年11月）"), township_month
    bureau_month = [t for t in new(bureau) if t.startswith("Monthly report")]
    assert bureau_month[0].startswith("Monthly report for 青松县, 2026-11"), bureau_month
    county_month = [t for t in new(county) if "月报" in t]
    assert len(county_month) == 1 and county_month[0].startswith("青松县控辍保学月报（2026年11月）"), county_month
    assert not [t for t in new(teacher) if "汇总" in t or "月报" in t]
