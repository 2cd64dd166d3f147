"""Generate the Python protobuf and gRPC modules from protos/ into src/billing/.

The generated code is committed so that an installed wheel needs no compiler. `--check`
regenerates into a scratch folder and fails if the committed files differ, so nobody can
hand-edit them or forget to regenerate after changing a .proto file.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "src"
PACKAGE = Path("billing") / "v1"


def generate(out: Path) -> None:
    """Run protoc with the Python, typing (.pyi) and gRPC plugins into `out`."""
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    files = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / PACKAGE).glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy_grpc={plugin}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in (out / "billing", out / PACKAGE):
        (package / "__init__.py").touch()
        (package / "py.typed").touch()


def differences(left: Path, right: Path) -> list[str]:
    """Names of files that differ between two generated trees."""
    # dircmp compares contents whenever the stat signatures differ, and fresh files always do.
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__"])
    return [*comparison.left_only, *comparison.right_only, *comparison.diff_files]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    options = parser.parse_args()
    if not options.check:
        shutil.rmtree(OUT / PACKAGE, ignore_errors=True)
        generate(OUT)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        generate(Path(scratch))
        stale = differences(OUT / PACKAGE, Path(scratch) / PACKAGE)
    if stale:
        print(f"generated code is stale, run `make gen`: {sorted(set(stale))}", file=sys.stderr)
        return 1
    print("generated code is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
