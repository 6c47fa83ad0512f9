"""The package's import graph, computed from the source: no cycle, no upward import.

The layers below are the README's layout section, top to bottom: a module may
import only modules of layers below its own (the storage package is one layer,
free inside itself as long as it has no cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "s3lite"

LAYERS: list[set[str]] = [
    {"s3lite", "s3lite.__main__"},
    {"s3lite._cli"},
    {"s3lite.storage"},
    {"s3lite._client"},
    {"s3lite._credential_sources"},
    {"s3lite._download_file", "s3lite._parallel_get"},
    {"s3lite._multipart", "s3lite._ranged"},
    {"s3lite._download"},
    {"s3lite._pipeline"},
    {"s3lite._credential_cache", "s3lite._sts"},
    {"s3lite._transport", "s3lite._engine"},
    {"s3lite._requests"},
    {"s3lite._payload", "s3lite._connstring"},
    {
        "s3lite._http",
        "s3lite._wire",
        "s3lite._body",
        "s3lite._chunked",
        "s3lite._xml",
        "s3lite._options",
    },
    {"s3lite._urls", "s3lite._retry", "s3lite._checksum_policy"},
    {"s3lite._signing"},
    {
        "s3lite._credentials",
        "s3lite._checksums",
        "s3lite._models",
        "s3lite._lifecycle",
        "s3lite._tls",
        "s3lite._version",
        "s3lite._progress",
        "s3lite._aws_config",
        "s3lite._object_options",
        "s3lite._tasks",
        "s3lite._asyncio_stream",
    },
    {"s3lite._exceptions"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("s3lite"):
                continue
            # ``from . import _xml`` names modules; ``from ._xml import x`` a module's names.
            named = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(named or {target})
    return {module for module in found if module in known} - {name}


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (at any depth of the file)."""
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(module: str) -> int:
    if module.startswith("s3lite.storage"):
        module = "s3lite.storage"
    for index, layer in enumerate(LAYERS):
        if module in layer:
            return index
    raise AssertionError(f"{module} has no layer: add it to LAYERS and the README's layout")


def test_every_module_has_a_layer() -> None:
    for module in import_graph():
        _layer(module)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "visiting"
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "visiting":
                cycles.append([*path[path.index(dependency) :], dependency])
            elif dependency not in state:
                visit(dependency, [*path, dependency])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_imports_one_above_it() -> None:
    upward = [
        f"{module} -> {dependency}"
        for module, dependencies in import_graph().items()
        for dependency in dependencies
        if _layer(dependency) <= _layer(module)
        and not (module.startswith("s3lite.storage") and dependency.startswith("s3lite.storage"))
    ]
    assert upward == []


@pytest.mark.parametrize("module", ["s3lite._multipart", "s3lite._download"])
def test_transfers_never_see_the_client(module: str) -> None:
    assert "s3lite._client" not in import_graph()[module]


def test_only_the_transport_imports_httpx_at_run_time() -> None:
    importers = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if any(n.split(".")[0] == "httpx" for n in names):
                    importers.append(name)
    # The client types the caller's own ``http_client`` argument.
    assert sorted(set(importers)) == ["s3lite._client", "s3lite._transport"]


def test_the_graph_sees_relative_imports() -> None:
    graph = import_graph()
    assert "s3lite._pipeline" in graph["s3lite._client"]
    assert "s3lite._xml" in graph["s3lite._client"]  # ``from . import _xml``
