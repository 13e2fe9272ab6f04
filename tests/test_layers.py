"""No import runs upward: the packages' layer order, written once here, bottom first. A
module may import its own layer and those below it, never one above (every import is
read, those inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

import feeds

LAYERS: tuple[tuple[str, ...], ...] = (
    # the values and pure helpers every stage shares
    (
        "feeds",
        "feeds.errors",
        "feeds.extras",
        "feeds.models",
        "feeds.urls",
        "feeds.patterns",
        "feeds.dates",
    ),
    ("feeds.html", "feeds.privacy", "feeds.fields", "feeds.schedule"),
    # the stages: each takes small values (or Protocols the config meets), never the config
    ("feeds.storage", "feeds.fetching", "feeds.sources", "feeds.extraction", "feeds.publishing"),
    ("feeds.config",),
    # one feed's run, made of the stages and the config
    ("feeds.run",),
    # several machines: the queue of runs, politeness shared in Redis
    ("feeds.cluster",),
    # the processes: once, the service, a cluster's worker, the server
    ("feeds.service",),
    ("feeds.cli", "feeds.__main__"),
)
ROOT = Path(feeds.__file__).parent


def layer_of(module: str) -> int:
    """The layer of a module: that of the longest package name it starts with."""
    best, found = "", -1
    for number, names in enumerate(LAYERS):
        for name in names:
            matches = module == name or module.startswith(name + ".")
            if matches and len(name) > len(best):
                best, found = name, number
    assert found >= 0, f"{module} is in no layer: add it to LAYERS"
    return found


def imports_of(path: Path, module: str) -> list[str]:
    """The feeds modules a file imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                package = module.rsplit(".", node.level)[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "feeds" or name.startswith("feeds.")]


def upward_imports(path: Path, module: str) -> list[str]:
    """The imports of a file (as ``module``) that run to a layer above its own."""
    own = layer_of(module)
    return [
        f"{module} (layer {own}) imports {imported} ({layer_of(imported)})"
        for imported in imports_of(path, module)
        if imported != "feeds" and layer_of(imported) > own  # "feeds": its version only
    ]


def test_no_import_runs_upward() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        upward += upward_imports(path, module)
    assert upward == []


def test_the_layering_test_sees_an_upward_import(tmp_path: Path) -> None:
    stage = tmp_path / "stage.py"
    stage.write_text("def read() -> None:\n    from feeds.config import Config\n")
    assert upward_imports(stage, "feeds.fetching.stage") == [
        "feeds.fetching.stage (layer 2) imports feeds.config (3)",
        "feeds.fetching.stage (layer 2) imports feeds.config.Config (3)",
    ]
