"""The client's retry policy covers every RPC, and retries only what is safe to repeat."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

from google.protobuf.descriptor import Descriptor

from billing_grpc.client import retries
from billing_grpc.client.channel import channel_options

CLIENT = Path(__file__).resolve().parents[2] / "src" / "billing_grpc" / "client"


def _carries_idempotency_keys(message: Descriptor) -> bool:
    return any(
        field.name == "idempotency_key"
        or (field.message_type is not None and _carries_idempotency_keys(field.message_type))
        for field in message.fields
    )


def _methods() -> dict[tuple[str, str], object]:
    return {
        (service.full_name, method.name): method
        for module in retries.SERVICE_MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


def test_every_rpc_is_classified_exactly_once() -> None:
    assert not (retries.RETRIED & retries.NOT_RETRIED)
    assert retries.all_methods() == retries.RETRIED | retries.NOT_RETRIED


def test_retried_commands_carry_idempotency_keys_and_reads_change_nothing() -> None:
    methods = _methods()
    for name in retries.IDEMPOTENT_COMMANDS:
        assert _carries_idempotency_keys(methods[name].input_type), name  # type: ignore[attr-defined]
    for _, method in retries.READS:
        assert method.startswith(("Get", "List", "Check", "Read", "Preview", "Explain", "Verify")), method


def test_the_service_config_retries_unavailable_with_backoff_on_exactly_those_methods() -> None:
    config = json.loads(dict(channel_options())["grpc.service_config"])
    (method_config,) = config["methodConfig"]
    named = {(n["service"], n["method"]) for n in method_config["name"]}
    assert named == retries.RETRIED
    policy = method_config["retryPolicy"]
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert 2 <= policy["maxAttempts"] <= 5  # gRPC caps attempts at 5
    assert policy["backoffMultiplier"] > 1


def test_the_client_imports_no_server_code() -> None:
    allowed_tops = {"grpc", "google", "billing"}
    for path in sorted(CLIENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in sys.stdlib_module_names
                    or top in allowed_tops
                    or name.startswith("billing_grpc.client")
                    or name == "billing_grpc"
                )
                assert ok, f"{path.name} imports {name}"
