"""Every kind of deadline row the code can create has a handler in ``casework.kinds``, and
a process that imports only the scheduler knows all of them.

The first test reads the source (no import side effects to hide a gap): each call that
creates a deadline row (``deadlines._add``, ``plan_job``, ``Deadline(kind=…)``) is found
and its kind resolved: a string, a module constant (``KIND``, ``attendance.PROMPT``), or,
for a local variable, every module string constant the function mentions (an
over-approximation: it errs towards failing).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from casework import kinds

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("casework", "bot", "handlers", "conversations", "web", "sandbox", "models")
CREATORS = {"_add": 2, "plan_job": 1}  # function name -> position of its kind argument
PRIMITIVES = {"_add", "plan_job"}  # they pass their own ``kind`` parameter on


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _sources() -> dict[str, ast.Module]:
    trees: dict[str, ast.Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            trees[_module_name(path)] = ast.parse(path.read_text(encoding="utf-8"))
    return trees


def _kind_arg(call: ast.Call) -> ast.expr | None:
    name = call.func.id if isinstance(call.func, ast.Name) else (
        call.func.attr if isinstance(call.func, ast.Attribute) else None
    )
    for kw in call.keywords:
        if kw.arg == "kind" and name in (*CREATORS, "Deadline"):
            return kw.value
    if name in CREATORS and len(call.args) > CREATORS[name]:
        return call.args[CREATORS[name]]
    return None


def creatable_kinds() -> dict[str, set[str]]:
    """Kind -> the places (module:function) that can create a row of it."""
    trees = _sources()
    consts = {mod: _constants(tree) for mod, tree in trees.items()}
    made: dict[str, set[str]] = {}
    unresolved: list[str] = []
    for mod, tree in trees.items():
        # ``from casework import attendance`` -> attendance.PROMPT resolves in that module
        aliases = {
            a.asname or a.name: f"{node.module}.{a.name}"
            for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
            for a in node.names
        }
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = {a.arg for a in (*fn.args.args, *fn.args.kwonlyargs)}
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call) or (arg := _kind_arg(call)) is None:
                    continue
                where = f"{mod}:{fn.name}:{call.lineno}"
                values: set[str] = set()
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    values = {arg.value}
                elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
                    values = {consts.get(aliases.get(arg.value.id, ""), {}).get(arg.attr, "")} - {""}
                elif isinstance(arg, ast.Name) and arg.id in consts[mod]:
                    values = {consts[mod][arg.id]}
                elif isinstance(arg, ast.Name) and arg.id in params and fn.name in PRIMITIVES:
                    continue  # the primitive itself; its callers are checked
                elif isinstance(arg, ast.Name) and arg.id not in params:
                    # a module constant of this module, or one imported by name
                    # (``from casework.attendance.roll_call import RC_PROMPT``)
                    imported = {
                        name: consts[source][attr]
                        for name, target in aliases.items()
                        for source, _, attr in [target.rpartition(".")]
                        if attr in consts.get(source, {})
                    }
                    known = {**imported, **consts[mod]}
                    values = {
                        known[n.id] for n in ast.walk(fn)
                        if isinstance(n, ast.Name) and n.id in known
                    }
                if not values:
                    unresolved.append(where)
                for value in values:
                    made.setdefault(value, set()).add(where)
    assert not unresolved, f"deadline kinds this test cannot resolve: {unresolved}"
    return made


def test_every_kind_the_code_can_create_has_a_handler_and_every_handler_a_creator() -> None:
    made = creatable_kinds()
    missing = {kind: sorted(where) for kind, where in made.items() if kind not in kinds.KINDS}
    assert missing == {}, f"kinds created but not registered in casework.kinds: {missing}"
    assert set(kinds.KINDS) == set(made), "registered kinds nothing creates"
    # the scan sees what it should: the ladder's literals, the calendar jobs' constants
    assert {"step", "reminder", "home_teaching", "attendance_prompt", "roll_call_close",
            "digest", "periodic_report"} <= set(made)
    assert any(w.startswith("casework.attendance.prompts:plan:") for w in made["attendance_prompt"])


def test_a_process_that_imports_only_the_scheduler_knows_every_kind_and_planner() -> None:
    """The bug: a process that had not imported casework.reports marked the monthly
    report's row done with "unknown kind"."""
    code = (
        "import sys\n"
        "from casework import scheduler\n"
        "from casework.kinds import KINDS, PLANNERS\n"
        "print(' '.join(sorted(KINDS)))\n"
        "print(' '.join(p.__name__ for p in PLANNERS))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert set(out[0].split()) == set(kinds.KINDS)
    assert {"periodic_report", "digest", "attendance_prompt"} <= set(out[0].split())
    assert out[1].split() == ["plan", "plan_digests", "plan_reports", "plan_agenda", "plan"]


def test_a_kind_is_registered_once() -> None:
    try:
        kinds._table(kinds.Kind("x", kinds.KINDS["step"].handler),
                     kinds.Kind("x", kinds.KINDS["step"].handler))
    except ValueError as err:
        assert "registered twice" in str(err)
    else:  # pragma: no cover
        raise AssertionError("a kind registered twice was accepted")
