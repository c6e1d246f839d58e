"""The import contract: the layers import one way, and no module imports itself back.

Read off the source (an AST walk over every module of every package), so every import
counts: at the top, inside a function, under ``if TYPE_CHECKING``. A late import hides a
cycle from Python, not from this test.

    cli, sandbox            the wiring on top (the command line; the local Telegram stand-in)
    bot                     the wiring: settings, building the Application, process roles
    handlers, web           the Telegram adapter; the web side for people
    conversations           the flows, one turn at a time, with no Telegram in them
    documents, demo         rendering files and pictures; the invented demo county
    casework                the domain
    models                  the tables and their column types
    locales                 the gettext catalogs (data; casework.i18n finds them through it)

Each package may import only the packages listed for it in ``MAY_IMPORT`` (and itself),
and the domain and the layers near it never import a web or Telegram framework.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MAY_IMPORT: dict[str, frozenset[str]] = {
    # nothing of ours: the encrypted columns know only the cipher's shape (models.types)
    "models": frozenset(),
    # locales: the gettext catalogs, package data found through the package (casework.i18n)
    "casework": frozenset({"models", "locales"}),
    "documents": frozenset({"casework", "models"}),
    "demo": frozenset({"casework", "models"}),
    "conversations": frozenset({"casework", "models"}),
    "handlers": frozenset({"conversations", "casework", "models", "documents"}),
    "web": frozenset({"casework", "models", "documents"}),
    "bot": frozenset({"handlers", "web", "conversations", "documents", "casework", "models"}),
    "sandbox": frozenset({"bot", "handlers", "web", "conversations", "documents", "demo",
                          "casework", "models"}),
    "cli": frozenset({"bot", "sandbox", "handlers", "web", "conversations", "documents", "demo",
                      "casework", "models"}),
    "locales": frozenset(),
    # run by hand, on top of everything: they drive the bot, the sender, the ledger
    "benchmarks": frozenset({"bot", "handlers", "web", "conversations", "documents", "demo",
                             "casework", "models", "sandbox"}),
    # the generator of ARCHITECTURE.md's diagrams and references: it reads the code it draws
    "docs": frozenset({"bot", "handlers", "web", "conversations", "documents", "demo",
                       "casework", "models", "cli", "sandbox"}),
}

FRAMEWORKS = frozenset({"telegram", "fastapi", "starlette", "uvicorn"})
# packages that must not know how the bot is reached: the domain, what it is built on, and
# what renders or seeds from it (conversations are Telegram-free too: replies are data)
NO_FRAMEWORK = frozenset({"models", "casework", "documents", "demo", "conversations"})


@dataclass(frozen=True)
class Edge:
    source: str  # module
    target: str  # module
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every dotted name the module imports, anywhere in it, with its line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level-1 steps
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from casework import ladder`` imports the module casework.ladder
                yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base,
                       node.lineno)


def _ours(name: str) -> str | None:
    """The module of ours a dotted name lands in (``casework.ladder.Outcome`` →
    ``casework.ladder``), or None for the standard library and third parties."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges() -> tuple[list[Edge], list[tuple[str, str, Path, int]]]:
    """Imports between our modules, and imports of anything else (module, name, path, line)."""
    ours: list[Edge] = []
    others: list[tuple[str, str, Path, int]] = []
    for module, path in MODULES.items():
        for name, line in _imported_names(module, path):
            target = _ours(name)
            if target is None:
                others.append((module, name, path, line))
            elif target != module:
                ours.append(Edge(module, target, path, line))
    # ``from casework.clock import A, B`` is one edge
    return list(dict.fromkeys(ours)), others


EDGES, OTHERS = _edges()


def _package(module: str) -> str:
    return module.split(".")[0]


def layer_violations(edges: list[Edge]) -> list[str]:
    """Each import of a package the importer may not import, as a readable line."""
    found = []
    for edge in edges:
        source, target = _package(edge.source), _package(edge.target)
        if source != target and target not in MAY_IMPORT[source]:
            allowed = ", ".join(sorted(MAY_IMPORT[source])) or "nothing of ours"
            found.append(f"{edge.where()}: {edge.source} imports {edge.target} "
                         f"({source} may import {allowed})")
    return found


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """Every group of modules that import one another in a ring (Tarjan's strongly
    connected components), each given as the edges inside it."""
    graph: dict[str, list[Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    rings: list[list[Edge]] = []

    def visit(node: str) -> None:  # the graph is a few hundred modules: recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph.get(node, []):
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            members = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.add(top)
                if top == node:
                    break
            if len(members) > 1:
                rings.append([e for m in sorted(members) for e in graph.get(m, [])
                              if e.target in members])

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return rings


def test_every_package_has_a_place_in_the_layers() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(MAY_IMPORT), (
        f"packages without a rule in MAY_IMPORT: {sorted(packages - set(MAY_IMPORT))}; "
        f"rules for packages that do not exist: {sorted(set(MAY_IMPORT) - packages)}"
    )


def test_the_walk_sees_late_imports_and_the_layers_import_one_way() -> None:
    # the walk reads imports inside functions too (bot.runtime imports digest_chart late)
    assert any(e.source == "bot.runtime" and e.target == "documents.digest_chart"
               for e in EDGES)
    violations = layer_violations(EDGES)
    assert violations == [], "upward or sideways imports:\n" + "\n".join(violations)


def test_the_domain_knows_no_web_or_telegram_framework() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {module} imports {name}"
             for module, name, path, line in OTHERS
             if _package(module) in NO_FRAMEWORK and name.split(".")[0] in FRAMEWORKS]
    found += [f"{path.relative_to(ROOT)}:{line}: {module} imports {name} (web is for "
              "people; Telegram's webhook is bot.webhook)"
              for module, name, path, line in OTHERS
              if _package(module) == "web" and name.split(".")[0] == "telegram"]
    assert found == [], "framework imports below the adapters:\n" + "\n".join(found)


def test_no_module_imports_itself_back() -> None:
    rings = cycles(EDGES)
    described = [
        " ↔ ".join(sorted({e.source for e in ring})) + "\n"
        + "\n".join(f"    {e.where()}: {e.source} imports {e.target}" for e in ring)
        for ring in rings
    ]
    assert rings == [], "import cycles:\n" + "\n".join(described)


def test_the_checks_catch_an_upward_import_and_a_cycle() -> None:
    """The checks themselves, on made-up edges: an upward import is named with its line,
    and a ring of two modules is found."""
    here = ROOT / "casework" / "ladder.py"
    upward = Edge("casework.ladder", "handlers.turns", here, 7)
    assert layer_violations([upward]) == [
        "casework/ladder.py:7: casework.ladder imports handlers.turns "
        "(casework may import locales, models)"
    ]
    back = Edge("casework.deadlines", "casework.ladder", ROOT / "casework" / "deadlines.py", 9)
    down = Edge("casework.ladder", "casework.deadlines", here, 21)
    assert cycles([down, back]) == [[back, down]]
    assert cycles([down]) == []


# --- the officers' console (web/) ----------------------------------------------------------

# the casework modules whose functions change cases, people and invitations
_WRITERS = ("ladder", "outcomes", "invites", "people")


def _calls_into(package: str, modules: tuple[str, ...]) -> set[str]:
    """``module.function`` for every call ``module.function(...)`` in the package's source."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in modules):
                found.add(f"{node.func.value.id}.{node.func.attr}")
    return found


def test_the_console_imports_the_domain_and_no_adapter() -> None:
    """web/ (the console) reads and writes through casework only: not a line of handlers/,
    conversations/ or bot/, so no rule can live in a route that the bot does not share."""
    web_edges = [e for e in EDGES if _package(e.source) == "web"]
    targets = {_package(e.target) for e in web_edges}
    assert "casework" in targets and {"handlers", "conversations", "bot"}.isdisjoint(targets), (
        sorted(f"{e.where()}: {e.target}" for e in web_edges))
    assert {"web.app", "web.console", "web.pages", "web.pages_admin"} <= set(MODULES)


def test_every_console_action_is_a_casework_function_the_bot_calls_too() -> None:
    console = _calls_into("web", _WRITERS)
    bot = _calls_into("handlers", _WRITERS) | _calls_into("conversations", _WRITERS)
    # what the console changes (the reads, e.g. people.by_id, are allowed to differ)
    changes = {c for c in console if c.split(".")[1] in {
        "acknowledge", "assign", "escalate", "issue_deadline_notice", "pause", "resume",
        "decide_outcome", "create", "revoke", "deactivate"}}
    assert len(changes) >= 8, sorted(console)
    assert changes <= bot, f"console actions the bot does not call: {sorted(changes - bot)}"
