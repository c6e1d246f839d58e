"""Tap counts of the everyday work, with the defaults accepted, printed and held to their
targets (issue #12): attendance with one unexcused absence; a suspected-dropout report (≤ 10
taps); a home visit with a photo and a location (≤ 8 taps, ≤ 2 typed answers); an enrolment
case for a child found door to door. Counted after the command or the prompt that starts
each (from the menu, one tap more).
"""

from __future__ import annotations

from tests.botkit import open_case, speaking
from tests.test_attendance import SOME_ABSENT, UNEXCUSED, deliver, everyone_online, pupils, tick
from tests.test_bot_enrolment import register_child


def counted(what: str, chat, typed_from: int = 0) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    taps, typed, sent = chat.taps, chat.typed - typed_from, chat.uploads
    print(f"\n{what}: {taps} taps, {typed} typed answers, {sent} photos/locations sent")
    return taps, typed, sent


async def test_attendance_with_one_unexcused_absence(harness, world) -> None:  # type: ignore[no-untyped-def]
    everyone_online(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    tick(harness, 2026, 11, 23, 9, 0)
    await deliver(harness)
    await teacher.tap(SOME_ABSENT)
    await teacher.tap(pupils(world)[2].name)
    await teacher.tap("Done ✓")
    await teacher.tap(UNEXCUSED)
    await teacher.tap("✅ Confirm")
    assert "case #" in teacher.reply_texts[-1]
    assert counted("attendance, one unexcused absence (from the prompt)", teacher) == (5, 0, 0)


async def test_a_suspected_dropout_report_takes_at_most_10_taps(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    await teacher.tap(pupils(world)[1].name)
    await teacher.tap("Previous school day")
    await teacher.tap("Learning difficulty")
    await teacher.tap("Done")
    await teacher.tap("At home")
    await teacher.tap("Keep:")
    await teacher.tap("Reached the guardian")
    await teacher.tap("Skip")  # no note
    await teacher.tap("Skip")  # no photo
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[-2].startswith("Case #1 opened")
    taps, typed, _sent = counted("suspected-dropout report (after /report)", teacher, typed_from=1)
    assert taps <= 10 and typed == 0


async def test_a_home_visit_with_a_photo_and_a_location_takes_at_most_8_taps(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/visit")
    await teacher.tap(f"#{case_id} ")
    await teacher.tap("🏠 Home visit, today")
    await teacher.send("父母在外打工，奶奶照看")
    await teacher.tap("Hesitant")
    await teacher.tap("Unwilling to return")
    await teacher.send("讲解义务教育法")
    await teacher.tap("Refused")
    await teacher.send_photo(caption="入户照片")
    await teacher.send_location(25.9, 117.3)
    await teacher.tap("Done")
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[-1].startswith("Visit recorded")
    taps, typed, sent = counted("home visit with a photo and a location (after /visit)", teacher, typed_from=1)
    assert taps <= 8 and typed <= 2 and sent == 2


async def test_an_enrolment_case_for_a_child_found_door_to_door(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre = harness.user(world.users["village_cadre"])
    await register_child(cadre)
    await cadre.tap("✅ 确认")
    assert "开始组织入学" in cadre.reply_texts[-2]
    # the child's name, birth date, ID, address and guardian are typed: 表1 needs them
    taps, typed, _sent = counted("enrolment case, door to door (after /report)", cadre, typed_from=1)
    assert taps <= 12 and typed == 5
