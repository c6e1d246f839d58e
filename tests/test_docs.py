"""The generated design documents are current: the flow and ladder diagrams in ``docs/`` are
what the code draws today, and every file:line reference in ARCHITECTURE.md points at a line
that still holds its symbol. When this fails: ``python -m docs.gen`` and commit the result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs import gen

ROOT = gen.ROOT
FIX = "run `python -m docs.gen` and commit what it writes"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return gen.generated()


def test_generated_files_are_current(files: dict[str, str]) -> None:
    assert gen.stale(files) == [], FIX


def test_every_flow_and_profile_is_drawn(files: dict[str, str]) -> None:
    from casework.policy import available

    flows = gen.load_flows()
    assert {f.name for f in flows} >= {"report", "visit", "propose", "returned", "invite", "roster"}
    for flow in flows:
        text = files[f"docs/flows/{flow.name}.md"]
        assert "```mermaid\nstateDiagram-v2\n" in text
        for step in flow.steps:  # every step is a state of the diagram and a row of the table
            assert f"as s_{step.name}\n" in text and f"| `{step.name}` |" in text
    for name in available():
        assert files[f"docs/ladders/{name}.svg"].startswith("<svg")
        assert files[f"docs/ladders/{name}.en.svg"].startswith("<svg")


def test_branches_are_read_from_the_next_functions(files: dict[str, str]) -> None:
    """A ``next`` function is followed into every step it can return, a factory's closure
    included (the evidence steps of ``propose``)."""
    visit, propose = files["docs/flows/visit.md"], files["docs/flows/propose.md"]
    assert "s_res --> s_prom: _after_result" in visit and "s_res --> s_evid: _after_result" in visit
    # "next" is not asked in sequence: reached from the summary only
    assert "summary --> s_next" in visit and "s_evid --> summary" in visit
    assert "s_ev0 --> s_ev1" in propose and "s_ev1 --> s_ev2" in propose
    assert "summary --> [*]: ✅ Confirm → outcomes.propose_outcome" in propose
    # begin may start a flow further in (销号 from a case's button presets the outcome)
    assert "[*] --> s_why: _begin_propose" in propose


def test_references_point_at_their_symbols() -> None:
    text = (ROOT / gen.ARCHITECTURE).read_text(encoding="utf-8")
    references = list(gen.REFERENCE.finditer(text))
    assert len(references) >= 10
    assert gen.broken_references(text) == [], FIX
    for match in references:
        line = (ROOT / match["path"]).read_text(encoding="utf-8").splitlines()[int(match["line"]) - 1]
        assert match["symbol"] in line


def test_the_checker_catches_a_moved_line_and_a_bare_reference() -> None:
    good = "`route` ([handlers/buttons.py:1](handlers/buttons.py#L1))"
    assert gen.broken_references(good) == ["handlers/buttons.py:1 does not contain `route`"]
    refreshed = gen.refresh_references(good)
    assert refreshed != good and gen.broken_references(refreshed) == []
    with pytest.raises(gen.GenerationError, match="not in the form"):
        gen.refresh_references("see handlers/buttons.py:24")
    with pytest.raises(gen.GenerationError, match="does not exist"):
        gen.refresh_references("`route` ([handlers/nowhere.py:1](handlers/nowhere.py#L1))")


def test_links_in_the_documents_resolve() -> None:
    for doc in (gen.ARCHITECTURE, "README.md", gen.INDEX):
        path = ROOT / doc
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (path.parent / target).exists(), f"{doc}: broken link {target}"


def test_readme_points_into_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared/" not in readme
    assert "ARCHITECTURE.md" in readme
    assert Path(ROOT / "ARCHITECTURE.md").is_file()
