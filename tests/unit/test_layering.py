"""The dependency rule: the domain is pure, and only adapters touch pymongo or generated code."""

from __future__ import annotations

import ast
import subprocess
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


# Deliberate exceptions, one module each: iso4217 is ISO's currency table as data, loaded lazily so
# that importing the domain does no I/O (docs/architecture.md, "Layers").
DOMAIN_EXCEPTIONS = {"currencies.py": {"iso4217"}}


@pytest.mark.parametrize("path", sorted((PACKAGE / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    for module in imported_modules(path):
        top = module.split(".")[0]
        allowed = top in sys.stdlib_module_names or module.startswith("billing_grpc.domain") or top == "pydantic"
        allowed = allowed or top in DOMAIN_EXCEPTIONS.get(path.name, set())
        assert allowed, f"{path.name} imports {module}"


def test_importing_the_domain_loads_no_currency_table() -> None:
    # iso4217 parses its XML table when imported: that must wait for the first currency lookup.
    code = (
        "import sys, billing_grpc.domain.money, billing_grpc.domain.plan;"
        "assert 'iso4217' not in sys.modules;"
        "billing_grpc.domain.money.currency_exponent('USD');"
        "assert 'iso4217' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


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
