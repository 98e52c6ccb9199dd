"""Email depends on the domain's events, never on its models or rules: the incident service
calls the outbox, and nothing in ``gql_support.notify`` imports ``gql_support.incidents``."""

from __future__ import annotations

import ast
from pathlib import Path

import gql_support.notify

PACKAGE = Path(gql_support.notify.__file__).parent


def _runtime_imports(tree: ast.Module) -> list[str]:
    """Modules imported when the module runs (``if TYPE_CHECKING:`` blocks left out)."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names += [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module:
                names.append(inner.module)
    return names


def test_notify_never_imports_the_incidents_package() -> None:
    offenders = {
        path.name: name
        for path in sorted(PACKAGE.glob("*.py"))
        for name in _runtime_imports(ast.parse(path.read_text()))
        if name.startswith("gql_support.incidents")
    }
    assert offenders == {}
