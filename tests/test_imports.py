"""Imports flow one way: web -> search <- indexer; search imports neither, nor Flask or click."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "search": {"indexer", "web", "flask", "click", "werkzeug"},
    "indexer": {"web", "flask"},
    "web": {"indexer", "click"},
}


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (relative imports stay in their package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_imports_flow_one_way() -> None:
    violations = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = imported_roots(path) & forbidden
            if bad:
                violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def test_search_reads_no_environment() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in (ROOT / "search").rglob("*.py") if "os.environ" in p.read_text(encoding="utf-8")
        or "getenv" in p.read_text(encoding="utf-8")
    ]
    assert not offenders
