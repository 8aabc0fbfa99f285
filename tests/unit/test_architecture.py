"""The rooms of ARCHITECTURE.md hold: each imports only the rooms it may, and no modules import in a cycle.

Walks the installed package (the import names, not the folders), reading every import statement of
every module — function-level and TYPE_CHECKING ones included, since they are dependencies too.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from functools import cache
from pathlib import Path

import pytest

TOP = [f"careledger.{name}" for name in ("protos", "chaincode", "gateway", "network", "cli")]

# room -> rooms it may import (besides itself). The longest matching prefix names a module's room.
MAY_IMPORT: dict[str, set[str]] = {
    "careledger.protos": set(),
    "careledger.chaincode": {"careledger.protos"},
    "careledger.network.config": set(),
    "careledger.network.identity": {"careledger.protos"},
    # batching calls to one node: pure asyncio, shared by the SDK and the peer's gateway service
    "careledger.gateway.coalesce": set(),
    "careledger.gateway": {"careledger.protos", "careledger.network.identity", "careledger.gateway.coalesce"},
    "careledger.network.ledger": {"careledger.protos", "careledger.network.identity"},
    "careledger.network.node": {
        "careledger.protos", "careledger.network.identity", "careledger.network.config",
        "careledger.network.ledger",
    },
    "careledger.network.peer": {
        "careledger.protos", "careledger.chaincode", "careledger.gateway.coalesce",
        "careledger.network.identity", "careledger.network.config", "careledger.network.ledger",
        "careledger.network.node",
    },
    "careledger.network.orderer": {
        "careledger.protos", "careledger.network.identity", "careledger.network.config",
        "careledger.network.ledger", "careledger.network.node",
    },
    "careledger.network.ca": {
        "careledger.protos", "careledger.network.identity", "careledger.network.config",
        "careledger.network.node",
    },
    "careledger.network.tools": {
        "careledger.protos", "careledger.chaincode", "careledger.network.identity",
        "careledger.network.config", "careledger.network.ledger", "careledger.network.node",
        "careledger.network.peer", "careledger.network.orderer",
    },
    "careledger.network.local": {  # all of network, as ARCHITECTURE.md says (the CA: network up --ca)
        "careledger.protos", "careledger.chaincode", "careledger.gateway", "careledger.gateway.coalesce",
        "careledger.network.identity",
        "careledger.network.config", "careledger.network.ledger", "careledger.network.node",
        "careledger.network.peer", "careledger.network.orderer", "careledger.network.tools",
        "careledger.network.ca",
    },
    "careledger.network": set(),  # the package itself: its __init__ imports nothing
    "careledger.cli": {
        "careledger.protos", "careledger.chaincode", "careledger.gateway", "careledger.gateway.coalesce",
        "careledger.network.identity",
        "careledger.network.config", "careledger.network.ledger", "careledger.network.node",
        "careledger.network.peer", "careledger.network.orderer", "careledger.network.tools",
        "careledger.network.local", "careledger.network.ca",
    },
}


def room_of(module: str) -> str:
    matches = [r for r in MAY_IMPORT if module == r or module.startswith(r + ".")]
    if not matches:
        raise AssertionError(f"{module} is in no room of ARCHITECTURE.md; add it to MAY_IMPORT and there")
    return max(matches, key=len)


@cache
def modules() -> dict[str, Path]:
    """Every module of the installed package, by import name, with its source file."""
    found: dict[str, Path] = {}
    for top in TOP:
        package = importlib.import_module(top)
        assert package.__file__ is not None
        found[top] = Path(package.__file__)
        for info in pkgutil.walk_packages(package.__path__, prefix=top + "."):
            spec = importlib.util.find_spec(info.name)
            assert spec is not None and spec.origin is not None
            found[info.name] = Path(spec.origin)
    return found


def _imports(name: str, path: Path) -> set[str]:
    """The careledger modules that `name` imports, resolved to modules where a name is one."""
    known = modules()
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("careledger"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if not source.startswith("careledger"):
                continue
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                out.add(candidate if candidate in known else source)
    return {m for m in out if m in known and m != name}


@cache
def graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in modules().items()}


def test_every_room_imports_only_the_rooms_it_may() -> None:
    wrong = []
    for module, imported in sorted(graph().items()):
        room = room_of(module)
        for target in sorted(imported):
            other = room_of(target)
            if other != room and other not in MAY_IMPORT[room]:
                wrong.append(f"{module} imports {target} ({room} may not import {other})")
    assert not wrong, "\n".join(wrong)


def test_peer_and_orderer_never_import_each_other() -> None:
    crossing = [
        f"{m} imports {t}"
        for m, targets in graph().items()
        for t in targets
        if {room_of(m), room_of(t)} == {"careledger.network.peer", "careledger.network.orderer"}
    ]
    assert not crossing, "\n".join(crossing)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _without_package_reexports(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own submodules to re-export them is not a cycle of design:
    the submodules never need the package's names. Drop only those downward edges."""
    files = modules()
    return {
        m: {t for t in ts if not (files[m].name == "__init__.py" and t.startswith(m + "."))}
        for m, ts in edges.items()
    }


def test_no_module_imports_in_a_cycle() -> None:
    cycles = _cycles(_without_package_reexports(graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycle_finder_finds_cycles(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _cycles(edges) == expected


def test_the_walk_sees_the_installed_package() -> None:
    names = modules()
    assert "careledger.network.peer.validation" in names
    assert "careledger.network.ledger.blockstore" in names
    assert "careledger.network.node.grpcutil" in graph()["careledger.network.peer.gatewayservice"]


def test_every_package_folder_is_listed_for_installation() -> None:
    """An editable install finds any folder; a wheel only the listed packages, so a missing line breaks
    a real install while every test here passes."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    folders = set()
    for name, folder in tool["package-dir"].items():
        for init in (root / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(root / folder)
            folders.add(".".join([name, *relative.parts]))
    assert folders - listed == set(), "add these to [tool.setuptools] packages"


def test_test_files_have_unique_names() -> None:
    """pytest imports test files without packages by basename: a second test_x.py stops collection."""
    names = [p.name for p in (Path(__file__).resolve().parents[1]).rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
