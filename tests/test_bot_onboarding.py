"""Joining the bot: an invitation link → share your phone number → pick a language → the
menu, through the real PTB stack and the fake Bot API; and everybody else — a used or
expired link, no link at all, a switched-off user — reads one polite sentence, whatever
they send, and leaves nothing in the database but an audit trail.

Invitations come from ``/invite`` in the bot (township and county officers, admins) and
from ``baoxue invite create`` on the command line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from telegram import Update
from typer.testing import CliRunner

from casework import invites
from casework.clock import FrozenClock
from casework.personal import Cipher
from casework.policy import Policy
from casework.uow import unit_of_work
from demo.county import World
from models import types as model_types
from models.tables import AuditEvent, Invite, TeacherClass, User
from tests.test_bot_access import forge_tap, row_counts

LINK = re.compile(r"https://t\.me/baoxue_test_bot\?start=([\w-]+)")
STRANGER = (
    "This bot is for teachers, village cadres and education officers working on dropout "
    "control (控辍保学). To use it, ask your township or county education office for an "
    "invitation link."
)

DEACTIVATED = ("Your account has been deactivated. If you have questions, please contact your "
               "township or county education office.")


def set_language(engine: Engine, user: User, language: str) -> None:
    with Session(engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.language = language
        s.add(row)
        s.commit()


def make_invite(engine: Engine, clock: FrozenClock, policy: Policy, world: World, **kw: object) -> str:
    """An invitation made the way the CLI makes one (by the operator, no inviting user)."""
    args: dict[str, object] = {"role": "teacher", "scope_kind": "classes", "scope_id": None,
                               "class_ids": [world.classes[5].id]}
    args.update(kw)
    with unit_of_work(engine, clock, policy) as cw:
        return invites.create(cw, None, **args).code  # type: ignore[arg-type]


def the_user(engine: Engine, telegram_id: int) -> User | None:
    with Session(engine) as s:
        return s.exec(select(User).where(User.telegram_id == telegram_id)).first()


# --- the whole path, in English and in Chinese -----------------------------------------


async def test_officer_invites_a_teacher_who_joins_in_english(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer_row = world.users["township_officer"]  # 梅林镇
    set_language(harness.engine, officer_row, "en")
    officer = harness.user(officer_row)

    await officer.send("/invite")
    assert officer.last == "Invite someone as…"
    # nobody can invite above their own rank
    assert officer.buttons() == ["teacher", "school administrator", "village cadre",
                                 "township officer", "Cancel"]
    await officer.tap("teacher")
    assert officer.replies[-1].text == "Responsible for which unit?"
    # only the classes of the officer's own township are offered (石桥 is the other one)
    assert not any("石桥" in b for b in officer.buttons())
    await officer.tap("梅林中学 Grade 7 Class 2")
    assert "• Role: teacher\n• Responsible for: 梅林中学 Grade 7 Class 2" in officer.last
    await officer.tap("Confirm")
    assert officer.last.startswith("Send this link to your colleague. It works once, for 7 days:")
    found = LINK.search(officer.last)
    assert found, officer.last
    code = found.group(1)

    # the colleague's phone speaks Chinese, but they will pick English
    newcomer = harness.user(first_name="Li", last_name="Ming", language_code="zh-hans")
    await newcomer.start(code)
    assert newcomer.reply_texts == ["欢迎！请点击下方按钮分享您的手机号码，完成加入。"]  # their app's language
    assert newcomer.keyboard_rows() == [["📱 分享我的手机号码"]]
    assert newcomer.state.reply_keyboard(newcomer.chat_id)["keyboard"][0][0]["request_contact"]
    joined = the_user(harness.engine, newcomer.id)
    assert joined is not None and not joined.active and joined.phone is None

    await newcomer.share_contact()
    assert newcomer.keyboard() == []  # the phone keyboard is gone
    assert newcomer.last_message.buttons() == [[("中文", "lang:zh_Hans"), ("English", "lang:en")]]

    await newcomer.tap("English")
    texts = newcomer.reply_texts
    assert texts[0].endswith("\n→ English")  # the question (in the app's Chinese), answered
    assert texts[1].startswith("What you can do:\n/report — Report a suspected dropout\n"
                               "/visit — Record a persuasion visit\n/cases — My cases\n")
    assert "/invite" not in texts[1]  # a teacher does not invite
    assert texts[2] == "You are all set.\nLi Ming (teacher). What would you like to do?"
    assert newcomer.buttons() == ["📝 Report a suspected dropout", "🏠 Record a persuasion visit",
                                  "📋 My cases", "🌐 Language / 语言"]

    # the command menu of their chat: a teacher's commands, in English whatever the app says
    menu = [("report", "Report a suspected dropout"), ("visit", "Record a persuasion visit"),
            ("cases", "My cases"), ("case", "One case, its actions and documents: /case 12"),
            ("forms", "A case's documents (Word, PDF): /forms 12"),
            ("verify", "Verification lists waiting for you"),  # everyone may have children to verify
            ("menu", "Main menu"), ("language", "Language / 语言"),
            ("help", "Help"), ("cancel", "Cancel what you are doing")]
    assert harness.tg.visible_commands(newcomer.chat_id, "en") == menu
    assert harness.tg.visible_commands(newcomer.chat_id, "zh") == menu
    assert harness.tg.commands({"type": "chat", "chat_id": newcomer.chat_id}) == menu

    with Session(harness.engine) as s:
        user = s.exec(select(User).where(User.telegram_id == newcomer.id)).one()
        assert (user.role, user.scope_kind, user.language, user.active) == ("teacher", "classes", "en", True)
        assert user.display_name == "Li Ming"
        assert user.phone == newcomer.phone_number.removeprefix("+86")
        assert s.exec(select(TeacherClass.class_id).where(TeacherClass.user_id == user.id)).all() == [
            world.classes[5].id]
        invite = s.exec(select(Invite).where(Invite.code == code)).one()
        assert invite.used_by == user.id and invite.created_by == officer_row.id
        actions = s.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
        assert actions == ["invite.create", "invite.redeem", "user.activate"]

    # and what they can do works: their class has no cases yet
    await newcomer.tap("My cases")
    assert newcomer.last == "You have no open cases."

    # switching to Chinese later switches the command menu too
    await newcomer.send("/language")
    await newcomer.tap("中文")
    assert newcomer.reply_texts[-1] == "语言已设置为中文。"
    assert harness.tg.visible_commands(newcomer.chat_id, "en")[:2] == [
        ("report", "报告疑似辍学"), ("visit", "记录劝返情况")]


def cli_invite(db_url: str, monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Run ``baoxue invite create ARGS`` against the test database, as an operator would."""
    from bot.settings import get_settings
    from cli.main import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ENCRYPTION_KEY", Cipher.generate_key())
    monkeypatch.delenv("BOT_USERNAME", raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    saved = model_types.cipher()  # the CLI installs its own key; the test's data keeps ours
    try:
        return CliRunner().invoke(app, ["invite", "create", *args])
    finally:
        model_types.install_cipher(saved)
        get_settings.cache_clear()


@pytest.fixture
def no_settings_cache() -> Iterator[None]:
    from bot.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_cli_invite_and_joining_in_chinese(harness, world, db_url, monkeypatch, no_settings_cache) -> None:  # type: ignore[no-untyped-def]
    village = world.villages[1]  # 溪口村
    result = cli_invite(db_url, monkeypatch, "--role", "village_cadre", "--scope", f"village:{village.id}",
                        "--name", "吴建国", "--bot", "@baoxue_test_bot", "--lang", "en")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Invitation for a village cadre, single use, valid until ")
    found = LINK.fullmatch(lines[1])
    assert found, result.output

    # an English-speaking phone, a Chinese-speaking cadre
    cadre = harness.user(first_name="Wu", language_code="en")
    await cadre.start(found.group(1))
    assert cadre.reply_texts == [
        "Welcome! To finish joining, please share your phone number with the button below."]
    await cadre.share_contact()
    await cadre.tap("中文")
    texts = cadre.reply_texts
    assert texts[0].endswith("\n→ 中文")
    user = the_user(harness.engine, cadre.id)
    assert user is not None and user.active and user.language == "zh_Hans"
    assert (user.role, user.scope_kind, user.scope_id, user.display_name) == (
        "village_cadre", "village", village.id, "吴建国")
    commands = harness.tg.visible_commands(cadre.chat_id, "en")
    assert [c for c, _ in commands] == ["report", "visit", "cases", "case", "forms", "verify", "unschooled",
                                       "menu", "language", "help", "cancel"]
    assert harness.tg.visible_commands(cadre.chat_id, "zh") == commands
    assert commands[:3] == [("report", "报告疑似辍学"), ("visit", "记录劝返情况"), ("cases", "我的个案")]
    assert texts[1].startswith("您可以使用以下功能：\n/report — 报告疑似辍学\n")
    assert texts[1].endswith("填写过程中随时可以使用 /cancel、/menu、/help 或 /language。")
    assert texts[2] == "设置完成，可以开始使用了。\n吴建国（村干部），您好！请选择要办理的事项："
    assert cadre.buttons()[0] == "📝 报告疑似辍学"


def test_cli_invite_for_a_teacher_takes_the_school_and_classes(db_url, engine, world, monkeypatch, no_settings_cache) -> None:  # type: ignore[no-untyped-def]
    school, klass = world.schools[1], world.classes[6]  # 梅林中学, 八年级1班
    result = cli_invite(db_url, monkeypatch, "--role", "teacher", "--scope", f"school:{school.id}",
                        "--class", str(klass.id), env={"BOT_USERNAME": "baoxue_test_bot"})
    assert result.exit_code == 0, result.output
    code = LINK.search(result.output).group(1)  # type: ignore[union-attr]
    with Session(engine) as s:
        invite = s.exec(select(Invite).where(Invite.code == code)).one()
        assert (invite.role, invite.scope_kind, invite.class_ids, invite.created_by) == (
            "teacher", "classes", [klass.id], None)
        assert invite.expires_at - invite.created_at == timedelta(days=7)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--role", "headmaster", "--scope", "school:1"], "is not a known choice"),
        (["--role", "village_cadre", "--scope", "village:999"], "There is no such unit."),
        (["--role", "village_cadre", "--scope", "school:1"], "answers for a different kind of unit"),
        (["--role", "teacher", "--scope", "school:2"], "needs at least one class"),
        (["--role", "teacher", "--scope", "school:1", "--class", "5"], "are not classes of school 1"),
        (["--role", "township_officer", "--scope", "township"], "use KIND:ID"),
        (["--role", "village_cadre", "--scope", "village:1", "--bot", ""], "pass --bot or set BOT_USERNAME"),
    ],
    ids=["unknown role", "unknown unit", "wrong kind of unit", "teacher without a class",
         "class of another school", "no id", "no bot username"],
)
def test_cli_invite_refuses_what_would_make_a_useless_link(  # type: ignore[no-untyped-def]
    db_url, engine, world, monkeypatch, no_settings_cache, args, error
) -> None:
    if "--bot" not in args:
        args = [*args, "--bot", "baoxue_test_bot"]
    result = cli_invite(db_url, monkeypatch, *args, "--lang", "en")
    assert result.exit_code != 0
    assert error in result.output
    assert "t.me" not in result.output
    with Session(engine) as s:
        assert s.exec(select(Invite)).all() == []


async def test_only_officers_invite(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    await teacher.send("/invite")
    assert teacher.reply_texts == ["This is not among the things your role can do here."]
    await teacher.send("/menu")
    assert "✉️ Invite a colleague" not in teacher.buttons()
    with Session(harness.engine) as s:
        assert s.exec(select(Invite)).all() == []


async def test_an_officer_cannot_invite_into_another_township(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer_row = world.users["township_officer"]  # 梅林镇
    set_language(harness.engine, officer_row, "en")
    officer = harness.user(officer_row)
    await officer.send("/invite")
    await officer.tap("village cadre")
    assert officer.buttons() == ["上坪村", "溪口村", "◀ Back", "Cancel"]
    step = officer.keyboard_message().inline_buttons()[0]["callback_data"].rsplit("|", 1)[0]
    other_village = world.villages[2]  # 竹园村, 石桥乡
    await forge_tap(officer, f"{step}|{other_village.id}")
    assert officer.callback_answer.text == "That choice is no longer offered."
    assert officer.replies == []
    with Session(harness.engine) as s:
        assert s.exec(select(Invite)).all() == []


# --- odd input while joining ------------------------------------------------------------


async def test_joining_asks_again_until_it_gets_the_right_answer(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    code = make_invite(harness.engine, clock, policy, world)
    newcomer = harness.user(first_name="Zhou", language_code="en")
    await newcomer.start(code)
    ask_phone = "Welcome! To finish joining, please share your phone number with the button below."

    # typing the number, a sticker, a command: the same question, with the button again
    for act in (newcomer.send("13812345678"), newcomer.send_sticker(), newcomer.send("/report"),
                newcomer.send("/language"), newcomer.send_photo()):
        await act
        assert newcomer.reply_texts == [ask_phone]
        assert newcomer.keyboard() == ["📱 Share my phone number"]
    # a forged language tap cannot skip the phone number
    await forge_tap(newcomer, "lang:en")
    assert newcomer.reply_texts == [ask_phone]
    assert not the_user(harness.engine, newcomer.id).active  # type: ignore[union-attr]

    # somebody else's contact card is not their number
    mark = harness.tg.marker()
    update = harness.tg.send_contact(newcomer.user, "+8613900000000", "Someone", 42, enqueue=False)
    await harness.app.process_update(Update.de_json(update, harness.app.bot))
    assert [m.content for m in harness.tg.bot_messages_since(newcomer.chat_id, mark)] == [
        "Please share your own number with the button, not someone else's.", ask_phone]
    assert the_user(harness.engine, newcomer.id).phone is None  # type: ignore[union-attr]

    await newcomer.share_contact()
    await newcomer.send("English please")  # text where a button is wanted
    assert newcomer.reply_texts == ["Choose your language / 选择语言"]
    assert newcomer.buttons() == ["中文", "English"]
    await newcomer.tap("English")
    assert newcomer.reply_texts[-1].startswith("You are all set.")
    assert harness.tg.unanswered_callbacks == []


async def test_opening_the_link_again_after_joining_shows_the_menu(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    code = make_invite(harness.engine, clock, policy, world)
    newcomer = harness.user(first_name="Qian", language_code="en")
    await newcomer.start(code)
    await newcomer.share_contact()
    await newcomer.tap("English")
    await newcomer.start(code)
    assert newcomer.reply_texts == ["Qian (teacher). What would you like to do?"]
    with Session(harness.engine) as s:
        assert len(s.exec(select(User).where(User.telegram_id == newcomer.id)).all()) == 1


# --- everybody else: one polite sentence, nothing else -------------------------------------


async def _everything_a_stranger_might_send(stranger, expected: str = STRANGER) -> None:  # type: ignore[no-untyped-def]
    """Each input must get exactly one message: the explanation, without any buttons."""
    harness_tg = stranger.state
    inputs = [
        lambda: stranger.send("hello"),
        lambda: stranger.send("/report"),
        lambda: stranger.send("/case 1"),
        lambda: stranger.send("/help"),
        lambda: stranger.send("/start"),
        lambda: forge_tap(stranger, "case:1"),
        lambda: forge_tap(stranger, "lang:en"),
        lambda: forge_tap(stranger, "menu:report"),
        lambda: forge_tap(stranger, "s|1|stu|1"),
        lambda: stranger.send_photo(),
        lambda: stranger.send_sticker(),
        lambda: stranger.send_animation(),
        lambda: stranger.send_voice(),
        lambda: stranger.send_location(),
        lambda: stranger.share_contact(),
    ]
    for act in inputs:
        await act()
        replies = stranger.replies
        assert [r.text for r in replies] == [expected]
        assert replies[0].reply_markup is None  # no buttons, no keyboard
    assert harness_tg.unanswered_callbacks == []


@pytest.mark.parametrize("how", ["no invite", "a bad code", "a used invite", "an expired invite",
                                 "switched off"])
async def test_strangers_read_one_polite_explanation_whatever_they_send(  # type: ignore[no-untyped-def]
    harness, world, clock, policy, how
) -> None:
    code = make_invite(harness.engine, clock, policy, world)
    stranger = harness.user(first_name="Sun", language_code="en")
    if how == "a used invite":
        first = harness.user(first_name="Zhao", language_code="en")
        await first.start(code)
        assert first.reply_texts[0].startswith("Welcome!")
    elif how == "an expired invite":
        clock.advance(timedelta(days=7, minutes=1))
    elif how == "switched off":
        await stranger.start(code)
        await stranger.share_contact()
        await stranger.tap("English")
        with Session(harness.engine) as s:
            row = s.exec(select(User).where(User.telegram_id == stranger.id)).one()
            row.active = False
            s.add(row)
            s.commit()
    before = row_counts(harness.engine, exclude={"audit_event"})

    # a switched-off user is a deactivated one, and told so (casework.people)
    expected = DEACTIVATED if how == "switched off" else STRANGER
    if how != "no invite":
        await stranger.start("not-a-code" if how == "a bad code" else code)
        assert stranger.reply_texts == [expected]
        assert stranger.replies[0].reply_markup is None
    await _everything_a_stranger_might_send(stranger, expected)

    assert row_counts(harness.engine, exclude={"audit_event"}) == before
    if how in ("a bad code", "a used invite", "an expired invite"):
        with Session(harness.engine) as s:
            refused = s.exec(select(AuditEvent).where(AuditEvent.action == "invite.refused")).all()
            assert [(a.allowed, a.detail["telegram_id"]) for a in refused] == [(False, stranger.id)]
    if how == "switched off":  # still switched off
        assert not the_user(harness.engine, stranger.id).active  # type: ignore[union-attr]


async def test_a_stranger_reads_the_explanation_in_their_apps_language(harness) -> None:  # type: ignore[no-untyped-def]
    stranger = harness.user(first_name="Zhang", language_code="zh-hans")
    await stranger.send("你好")
    assert stranger.reply_texts == [
        "本机器人供从事控辍保学工作的教师、村干部和教育部门工作人员使用。如需使用，请向所在乡镇或县教育局索取邀请链接。"]


async def test_an_invite_works_once(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    code = make_invite(harness.engine, clock, policy, world)
    first = harness.user(first_name="Zhao", language_code="en")
    second = harness.user(first_name="Sun", language_code="en")
    await first.start(code)
    await second.start(code)
    assert second.reply_texts == [STRANGER]
    # the first one finishes undisturbed
    await first.share_contact()
    await first.tap("English")
    assert the_user(harness.engine, first.id).active  # type: ignore[union-attr]
    assert the_user(harness.engine, second.id) is None


async def test_an_invite_expires_after_seven_days(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    code = make_invite(harness.engine, clock, policy, world)
    clock.advance(timedelta(days=6, hours=23))
    early = harness.user(first_name="Zhao", language_code="en")
    await early.start(code)
    assert early.reply_texts[0].startswith("Welcome!")

    late_code = make_invite(harness.engine, clock, policy, world)
    clock.advance(timedelta(days=7))
    late = harness.user(first_name="Sun", language_code="en")
    await late.start(late_code)
    assert late.reply_texts == [STRANGER]
    assert the_user(harness.engine, late.id) is None
