"""The public API is pinned, and imports only point downward (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import modelyard

SRC = Path(modelyard.__file__).resolve().parent


def test_public_api_is_pinned() -> None:
    assert sorted(modelyard.__all__) == [
        "AlreadyExists",
        "ConfigError",
        "DataError",
        "FetchError",
        "IntegrityError",
        "ModelLoadError",
        "ModelyardError",
        "NotFound",
        "Recipe",
        "TrainingError",
        "__version__",
        "load_recipe",
    ]
    for name in modelyard.__all__:
        assert hasattr(modelyard, name)


def _our_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelyard"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("modelyard"))
    return found


def test_store_imports_only_errors_and_settings() -> None:
    allowed = ("modelyard.store", "modelyard.errors", "modelyard.settings", "modelyard.config")
    for path in (SRC / "store").glob("*.py"):
        stray = {m for m in _our_imports(path) if not m.startswith(allowed) and m != "modelyard"}
        stray -= {"modelyard.settings", "modelyard.store"}
        assert not stray, f"{path.name} imports {stray}"


def test_stages_never_import_serve_or_cli() -> None:
    for name in ("train.py", "evaluate.py", "export.py", "registry.py", "predict.py"):
        path = SRC / name
        if path.exists():
            bad = {m for m in _our_imports(path) if m.startswith(("modelyard.serve", "modelyard.cli"))}
            assert not bad, f"{name} imports {bad}"


def test_library_modules_do_not_import_the_cli() -> None:
    for path in SRC.rglob("*.py"):
        if path.name not in ("cli.py", "__main__.py"):
            assert not any(m.startswith("modelyard.cli") for m in _our_imports(path)), path
