# One venv, built from the project's own requirement files; every target below uses it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto' | sort)
export PYTHONPATH := generated:.

.PHONY: install run test fuzz lint proto check-proto bench key compose-secrets clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The official Node SDK for tests/e2e/test_node_sdk.py, exactly as locked (skipped without npm).
NODE_STAMP := tests/node/node_modules/.package-lock.json
$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	if command -v npm >/dev/null; then npm ci --prefix tests/node --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Node SDK test will skip (apt-get install nodejs npm)"; fi

install: $(STAMP) $(NODE_STAMP)

run: $(STAMP)
	$(PY) -m scripts.run_local

test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest -q

# The property-based fuzz of tests/fuzz at 20,000 cases (`make test` runs it at 2,400); prints the
# count of cases and violations. PERF_FUZZ_SEED=<n> explores other cases than the fixed default.
fuzz: $(STAMP)
	PERF_FUZZ_EXAMPLES=$${PERF_FUZZ_EXAMPLES:-20000} $(PY) -m pytest -q tests/fuzz

lint: $(STAMP)
	$(VENV)/bin/ruff check server gateway contract tests bench scripts
	$(VENV)/bin/mypy server gateway contract --ignore-missing-imports

proto: $(STAMP)
	rm -rf generated/perf
	$(PY) -m grpc_tools.protoc -I proto --python_out=generated --grpc_python_out=generated --pyi_out=generated $(PROTOS)

check-proto: proto
	git diff --exit-code -- generated
	test -z "$$(git status --porcelain -- generated)"

bench: $(STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.live
	$(PY) -m bench.accounting
	$(PY) -m bench.limiter
	$(PY) -m bench.edits
	$(PY) -m bench.scale

key: $(STAMP)
	$(PY) -m server.keys create --mode test --tier free

# The files compose.yaml mounts as secrets (never overwrites one); needs only python3.
compose-secrets:
	PYTHONPATH=. $(PYTHON) -m scripts.compose_secrets --dir secrets

clean:
	rm -rf $(VENV) var
