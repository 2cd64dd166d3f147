# Everything a newcomer needs: `make run` and `make test` create and update the virtualenv
# (and `make test` the node tooling for buf) themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The server's own dependencies: all `make run` and `make demo` install (the generated code
# is committed, so they need no protoc, linters or type checkers).
RUNTIME_INSTALLED := $(VENV)/.installed-runtime
# Everything, development tools included.
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock

.PHONY: run demo tools test gen check-gen lint lint-proto breaking-proto typecheck audit bench clean

$(RUNTIME_INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	touch $@

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[dev]'
	touch $(RUNTIME_INSTALLED) $@

# buf's only dependencies are its per-platform binaries at the same exact version, so the exact
# pin in package.json fixes everything; a lock file would list other platforms' optional
# binaries, which `npm ci` then insists on. The same install brings @grpc/grpc-js and
# @grpc/proto-loader (exact pins) for the Node.js interop client in interop/node.
$(NODE_INSTALLED): package.json
	npm install --no-package-lock --no-audit --no-fund --loglevel=error
	touch $@

## gen: regenerate the Python stubs from protos/ (the output is committed)
gen: $(INSTALLED)
	$(BIN)/python tools/gen_protos.py

## run: start the server on 127.0.0.1:50051 with the embedded store under .data/ (installs only
## the server's dependencies into .venv; `make run ARGS="--workers 2"` passes arguments on)
run: $(RUNTIME_INSTALLED)
	$(BIN)/billing-grpc serve $(ARGS)

## demo: start a throw-away server (test clock, embedded store in a temporary folder) and play the
## scripted three-month tour against it, then stop it
demo: $(RUNTIME_INSTALLED)
	$(BIN)/billing-grpc demo --serve

## tools: the node tooling: `buf` (for `buf curl` in the README's examples) in node_modules/.bin
tools: $(NODE_INSTALLED)

check-gen: $(INSTALLED)
	$(BIN)/python tools/gen_protos.py --check

lint-proto: $(NODE_INSTALLED)
	node_modules/.bin/buf lint

## breaking-proto: `buf breaking` against the previous commit (says so and passes when there is none)
breaking-proto: $(NODE_INSTALLED) $(INSTALLED)
	$(BIN)/python tools/buf_breaking.py

lint: $(INSTALLED)
	$(BIN)/ruff check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

## test: the whole suite: generated code fresh, buf lint and breaking, ruff, mypy, pytest
test: check-gen lint-proto breaking-proto lint typecheck
	$(BIN)/python -m pytest

## audit: check every locked dependency against the PyPA/OSV vulnerability data (needs the
## network: pypi.org or api.osv.dev; --strict fails when a package cannot be audited)
audit: $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip-audit==2.10.1
	$(BIN)/pip-audit --strict --no-deps --disable-pip -r requirements.lock

## bench: the benchmarks under bench/, results in bench/results/
bench: $(INSTALLED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .data .pytest_cache .mypy_cache .ruff_cache
