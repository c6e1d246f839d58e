"""The ladder diagram is generated from each profile: one box per level with what the
profile says about it, in the reader's language."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from casework.labels import state_text
from casework.policy import load_named
from cli.main import app
from documents.ladder_diagram import ladder_svg, wrap

PROFILES = ("datian", "qiaocheng", "tongnan", "jidong", "lipu")
SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("name", PROFILES)
def test_every_level_is_drawn_with_its_deadline_and_rounds(name: str) -> None:
    policy = load_named(name)
    svg = ladder_svg(policy, "zh_Hans")
    texts = _texts(svg)
    titles = [t for t in texts if t[:1].isdigit() and ". " in t]
    assert titles == [
        f"{i}. {state_text(level.state).render('zh_Hans')}"
        for i, level in enumerate(policy.ladder, start=1)
    ]
    joined = "\n".join(texts)
    for level in policy.ladder:
        if level.deadline is not None:
            assert f"期限：{level.deadline.text().render('zh_Hans')}" in joined
        if level.rounds is not None:
            assert f"最多{level.rounds}次" in joined
    # one arrow between consecutive levels, plus the one from the absence box
    arrows = ET.fromstring(svg).findall(f"{SVG}line")
    assert len(arrows) == len(policy.ladder) - 1 + (1 if policy.absence else 0)


def test_english_diagram_speaks_english() -> None:
    svg = ladder_svg(load_named("datian"), "en")
    texts = "\n".join(_texts(svg))
    assert "1. suspected dropout" in texts
    assert "deadline: 3 working days" in texts
    assert "疑似辍学" not in texts


def test_wrapped_lines_fit_and_never_start_with_closing_punctuation() -> None:
    text = "负责：村干部、乡镇控辍专干，须在期限内完成第一次至第五次动员劝返，并逐次记录。" * 2
    lines = wrap(text, 200)
    assert "".join(lines) == text
    assert all(line[0] not in "，。、；：）" for line in lines)
    assert len(lines) > 2


def test_cli_writes_the_diagram(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "lipu.svg"
    result = CliRunner().invoke(app, ["policy", "diagram", "lipu", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1. 疑似辍学" in out.read_text(encoding="utf-8")
