"""The dependency rule: the domain is pure, and only adapters touch pymongo or generated code."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "billing_grpc"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    for module in imported_modules(path):
        top = module.split(".")[0]
        allowed = top in sys.stdlib_module_names or module.startswith("billing_grpc.domain") or top == "pydantic"
        assert allowed, f"{path.name} imports {module}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in PACKAGE.rglob("*.py") if p.parent.name in {"domain", "application", "payments"}),
    ids=lambda p: p.name,
)
def test_no_core_module_touches_pymongo_grpc_or_generated_code(path: Path) -> None:
    # prometheus_client too: the core reports through the telemetry port, adapters keep the metrics.
    adapters_only = {"pymongo", "bson", "grpc", "billing", "google", "prometheus_client"}
    for module in imported_modules(path):
        assert module.split(".")[0] not in adapters_only, f"{path.name}: {module}"
