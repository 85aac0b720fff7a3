"""The layout holds: no import circle, no arrow up the layers, ``_sync`` generated.

Read from the source (no import), so a circle is found even where Python would tolerate it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "token_blacklist"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_imports(path: Path) -> set[str]:
    """Modules of the package ``path`` imports when it is imported (module level, outside
    ``if TYPE_CHECKING``); ``from . import x`` counts as the package and ``x``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and not _type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("token_blacklist"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if not target.startswith("token_blacklist"):
                    continue
                found.add(target)
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    if candidate in MODULES:
                        found.add(candidate)

    visit(ast.parse(path.read_text()).body)
    found.discard(name)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: module_imports(path) & MODULES.keys() for name, path in MODULES.items()}


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan). A package imported
    by its own submodule is not counted: Python runs the package first, by design."""
    edges = {n: {m for m in targets if m not in _parents(n)} for n, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_graph_is_read() -> None:
    assert "token_blacklist._core.protocol" in GRAPH["token_blacklist._async.client"]
    assert "token_blacklist._transports" in GRAPH["token_blacklist._sync.client"]


def test_no_import_circle() -> None:
    assert cycles(GRAPH) == []


def test_the_circle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


IO = ("_async", "_sync", "_cluster", "_transports", "_io")


def _layer_imports(prefix: str) -> dict[str, set[str]]:
    return {n: t for n, t in GRAPH.items() if n == prefix or n.startswith(prefix + ".")}


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("token_blacklist._core", (*IO, "_observability", "_options")),
        ("token_blacklist._observability", (*IO, "_options")),
        ("token_blacklist._options", IO),
        ("token_blacklist.errors", ("_core", "_observability", *IO)),
        ("token_blacklist.results", ("_core", "_observability", *IO)),
        ("token_blacklist._io", ("_core", "_observability", "_async", "_sync", "_cluster")),
    ],
)
def test_no_arrow_up_the_layers(layer: str, forbidden: tuple[str, ...]) -> None:
    banned = tuple(f"token_blacklist.{name}" for name in forbidden)
    wrong = {
        module: sorted(t for t in targets if t.startswith(banned))
        for module, targets in _layer_imports(layer).items()
        if any(t.startswith(banned) for t in targets)
    }
    assert wrong == {}


def test_transports_never_import_their_selection_or_a_shell() -> None:
    for name, targets in GRAPH.items():
        if name.startswith(("token_blacklist._async.", "token_blacklist._sync.")) and not (
            name.endswith(".client")
        ):
            assert not {t for t in targets if t.endswith((".client", "._transports"))}, name
        if name == "token_blacklist._cluster":
            assert "token_blacklist._transports" not in targets


def test_no_module_over_350_lines() -> None:
    sizes = {
        p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in MODULES.values()
    }
    assert {name: size for name, size in sizes.items() if size > 350} == {}


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "unasync.py", root / "scripts" / "unasync.py")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")  # ruff's settings
    for flavour in ("_async", "_sync"):
        shutil.copytree(PACKAGE / flavour, root / "src" / "token_blacklist" / flavour)
    return root


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_generated_sync_code_is_current(tmp_path: Path) -> None:
    checked = _check(_copy_tree(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_async_edit_without_regeneration_fails_the_check(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    source = root / "src" / "token_blacklist" / "_async" / "client.py"
    edited = source.read_text() + "\n\nEDITED = True  # not regenerated yet\n"
    assert edited != source.read_text()
    source.write_text(edited)
    checked = _check(root)
    assert checked.returncode == 1
    assert "_sync/client.py" in checked.stdout
    regenerated = subprocess.run(
        [sys.executable, str(root / "scripts" / "unasync.py")], capture_output=True, check=False
    )
    assert regenerated.returncode == 0
    assert _check(root).returncode == 0


def test_a_hand_edit_of_generated_code_fails_the_check(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    target = root / "src" / "token_blacklist" / "_sync" / "wire.py"
    target.write_text(target.read_text().replace("hooks.disconnect_now(conn)", "conn.close()", 1))
    assert _check(root).returncode == 1
    stray = root / "src" / "token_blacklist" / "_sync" / "extra.py"
    stray.write_text("")
    target.write_text((PACKAGE / "_sync" / "wire.py").read_text())
    assert _check(root).returncode == 1
