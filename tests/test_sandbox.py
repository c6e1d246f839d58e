"""The sandbox as a newcomer meets it: the README's run command brings it up with the demo
county, the page answers, and — in a real headless Chromium — a teacher reports a
suspected dropout, the clock is moved past the deadlines, and the township officer
receives the escalation and acknowledges it. Screenshots go to test-output/sandbox/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, select

from casework.personal import Cipher

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "sandbox"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as res:  # noqa: S310 - loopback only
        return res.status, res.read().decode("utf-8")


class Running:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, db: Path, log: Path) -> None:
        self.proc, self.port, self.db, self.log = proc, port, db, log
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the run command exited:\n{self.log.read_text()[-3000:]}")
            try:
                status, _ = _get(self.url + "/healthz")
                health = json.loads(_get(self.url + "/healthz")[1])
                # ready once the bot runs against its stand-in
                if status == 200 and health.get("bot") == "running":
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the sandbox did not come up:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the group
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise AssertionError("Ctrl-C did not stop the sandbox") from None
        return self.proc.returncode


def _start(tmp: Path, command: list[str]) -> Running:
    port = _free_port()
    db = tmp / "sandbox.db"
    log = tmp / "run.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "ENCRYPTION_KEY": Cipher.generate_key(),
        "PORT": str(port),
        "POLICY": "datian",
    }
    env.pop("BOT_TOKEN", None)
    env.pop("TEST_DATABASE_URL", None)
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Running(proc, port, db, log)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Running]:
    running = _start(tmp_path, [str(ROOT / ".venv" / "bin" / "baoxue"), "sandbox"])
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_the_readme_run_command_brings_up_the_sandbox(tmp_path: Path) -> None:
    """`make run`: the sandbox migrates, seeds and marks a new database, serves the page on
loopback with its banner; Ctrl-C stops it.

It runs in the suite's own virtualenv, taken as installed (``-o`` the install stamp): the
Makefile's install step would otherwise reinstall every package from the registry whenever
pyproject.toml is newer than the stamp (a minute, and the network)."""
    venv = Path(sys.prefix)
    running = _start(tmp_path, ["make", "--no-print-directory", f"VENV={venv}",
                                "-o", str(venv / ".installed"), "run"])
    try:
        running.wait_ready(180)
        status, page = _get(running.url + "/")
        assert status == 200
        assert "控辍保学" in page or "sandbox" in page
        # the banner: invented data only, and bound to loopback
        assert "演示沙盒：虚构的演示县（青松县）与虚构人员。请勿在此录入真实学生或家庭信息。" in page
        assert f"监听地址 127.0.0.1:{running.port}：仅本机可以打开。" in page
        personas = json.loads(_get(running.url + "/sandbox/api/personas")[1])["personas"]
        assert [p["role"] for p in personas] == [
            "teacher", "school_admin", "village_cadre", "village_cadre", "township_officer",
            "county_officer",
        ]
        assert "Sandbox running: open http://127.0.0.1:" in running.log.read_text()
    finally:
        code = running.stop()
    assert code in (0, 2, 130, -signal.SIGINT), running.log.read_text()[-2000:]
    assert "Traceback" not in running.log.read_text()


# --- the browser -------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise AssertionError("Debian's chromium is required in CI (.ci/run installs it)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def _last_bot_buttons(page) -> list[str]:  # type: ignore[no-untyped-def]
    msgs = page.locator("#messages li.msg:not(.me)")
    if msgs.count() == 0:
        return []
    return [b.inner_text() for b in msgs.last.locator(".kb button").all()]


def _click_bot_button(page, label: str) -> None:  # type: ignore[no-untyped-def]
    before = page.locator("#messages li").count()
    edited = page.locator("#messages li.msg:not(.me)").last.inner_text()
    page.locator("#messages li.msg:not(.me)").last.locator(".kb button", has_text=label).first.click()
    page.wait_for_function(
        "([n, t]) => document.querySelectorAll('#messages li').length > n || "
        "[...document.querySelectorAll('#messages li.msg:not(.me)')].pop().innerText !== t",
        arg=[before, edited], timeout=30000,
    )


def _assert_on_screen(page, viewport: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """The input box and the newest message lie inside the viewport: the chat scrolls
    inside its box, it never pushes the composer below the screen."""
    page.wait_for_timeout(300)  # the list scrolls to its end after rendering
    for what, locator in (("the input box", page.locator("#text")),
                          ("the send button", page.locator("#send")),
                          ("the newest message", page.locator("#messages li").last)):
        box = locator.bounding_box()
        assert box is not None, f"{what} is not rendered"
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, (what, box)
        # the newest message may be taller than the list; its end must show
        assert box["y"] + box["height"] <= viewport["height"] + 0.5, (what, box, viewport)
        assert box["y"] + box["height"] > 0, (what, box)
    messages = page.locator("#messages").bounding_box()
    assert messages is not None and messages["y"] + messages["height"] <= viewport["height"] + 0.5, messages
    # the persona tabs are not squashed: each name is shown at its full line height
    tab = page.locator("#persona-list li").first.bounding_box()
    assert tab is not None and tab["height"] >= 28, tab
    # the attachment buttons say what they are in words, not only with an emoji
    assert page.locator(".attach").first.inner_text().strip().endswith("文件")
    assert page.locator("#location-button").inner_text().strip().endswith("位置")


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
    ids=["desktop", "phone-390x844"],
)
def test_teacher_reports_and_township_officer_acknowledges_in_chromium(
    sandbox: Running, viewport: dict[str, int]
) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    shots = OUTPUT / f"{viewport['width']}x{viewport['height']}"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=viewport, locale="zh-CN")
        page.goto(sandbox.url + "/")
        assert page.locator('[data-testid="sandbox-banner"]').is_visible()
        page.locator('[data-testid="persona-teacher5"]').click()

        # the teacher reports: /report, then the buttons a teacher would tap
        page.fill("#text", "/report")
        page.click("#send")
        page.wait_for_function("document.querySelectorAll('#messages li.msg:not(.me) .kb button').length > 0")
        taps = 0
        student = None
        for _ in range(25):
            # a tap may first edit the old question, then the next one arrives
            try:
                page.wait_for_function(
                    "(() => { const m = [...document.querySelectorAll('#messages li.msg:not(.me)')].pop();"
                    " return m && m.querySelectorAll('.kb button').length > 0; })()", timeout=30000)
            except Exception:
                page.screenshot(path=str(shots / "failure.png"))
                raise
            buttons = _last_bot_buttons(page)
            if "✅ 确认" in buttons:
                page.screenshot(path=str(shots / "1-teacher-summary.png"))
                _click_bot_button(page, "✅ 确认")
                taps += 1
                break
            choice = next(
                (b for b in ("跳过", "完成 ✓") if b in buttons and (b != "完成 ✓" or any(x.startswith("✅") for x in buttons))),
                None,
            )
            if choice is None:
                choice = next(b for b in buttons if b not in ("取消", "完成 ✓") and "›" not in b and "/" not in b)
                if student is None:
                    student = choice.split(" · ")[0]
            _click_bot_button(page, choice)
            taps += 1
            text = page.locator("#messages li.msg:not(.me)").last.inner_text()
            if "已有未结个案" in text:
                student = None  # that child is already followed; the roster is asked again
        else:
            raise AssertionError("the report flow did not reach its summary")
        print(f"teacher's report in the sandbox: {taps} taps ({viewport['width']}px)")
        page.screenshot(path=str(shots / "debug-after-confirm.png"))
        page.wait_for_function(
            "[...document.querySelectorAll('#messages li.msg:not(.me)')].some(m => m.innerText.includes('建档') && m.innerText.includes('个案编号'))"
        )
        page.screenshot(path=str(shots / "2-teacher-reported.png"))
        _assert_on_screen(page, viewport)
        assert student is not None

        # move the clock until the case reaches the township
        engine = create_engine(f"sqlite:///{sandbox.db}")
        from models.tables import Case, Deadline, Student

        def township_case() -> Case | None:
            with Session(engine) as s:
                row = s.exec(
                    select(Case).join(Student, Student.id == Case.student_id).where(Student.name == student)
                ).first()
                return row if row is not None and row.state == "township_persuasion" else None

        # datian: 1 working day as suspected, then 3 at the school → about five days on
        days = 0
        for _ in range(12):
            if township_case() is not None:
                break
            page.click('[data-step="day"]')
            page.wait_for_function("!document.querySelector('[data-step=\"day\"]').disabled", timeout=60000)
            days += 1
        print(f"clock moved {days} days")
        case = township_case()
        assert case is not None, "the case never reached the township"
        page.screenshot(path=str(shots / "3-clock-moved.png"))

        # the township officer sees the escalation alert and acknowledges it
        page.locator('[data-testid="persona-township_officer1"]').click()
        alert = page.locator("#messages li.msg", has_text=student).filter(has_text="确认收到").last
        alert.wait_for(timeout=30000)
        page.screenshot(path=str(shots / "4-officer-alert.png"))
        alert.locator(".kb button", has_text="确认收到").click()
        page.locator("#messages li.msg", has_text="已确认收到个案").last.wait_for(timeout=30000)
        page.screenshot(path=str(shots / "5-officer-acknowledged.png"))
        _assert_on_screen(page, viewport)
        browser.close()

    with Session(engine) as s:
        acks = s.exec(select(Deadline).where(Deadline.case_id == case.id, Deadline.kind == "ack")).all()
        assert any(a.result == "acknowledged" for a in acks), [(a.status, a.result) for a in acks]
    engine.dispose()
