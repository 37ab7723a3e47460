# One venv, built from the project's own requirement files; every target below uses it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto' | sort)
export PYTHONPATH := generated:.

.PHONY: install run test fuzz lint proto check-proto bench bench-compare key compose-secrets clean

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
# Then schemathesis over the live gateway against gateway/openapi.json, 200 fuzzed cases per operation
# (`make test`: 8); it prints operations, cases sent and statuses seen.
fuzz: $(STAMP)
	PERF_FUZZ_EXAMPLES=$${PERF_FUZZ_EXAMPLES:-20000} $(PY) -m pytest -q tests/fuzz
	PERF_SCHEMATHESIS_EXAMPLES=$${PERF_SCHEMATHESIS_EXAMPLES:-200} $(PY) -m pytest -q tests/e2e/test_openapi_schemathesis.py

lint: $(STAMP)
	$(VENV)/bin/ruff check server gateway contract tests bench scripts
	$(VENV)/bin/mypy server gateway contract --ignore-missing-imports

proto: $(STAMP)
	rm -rf generated/perf
	$(PY) -m grpc_tools.protoc -I proto --python_out=generated --grpc_python_out=generated --pyi_out=generated $(PROTOS)

check-proto: proto
	git diff --exit-code -- generated
	test -z "$$(git status --porcelain -- generated)"

# LiteLLM's proxy for bench/compare, in a venv of its own from a fully pinned file: its dependencies never
# touch .venv (~770 MB, ~2 min to build once). CI does not build it: it runs no benchmark.
LITELLM_VENV := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.installed
$(LITELLM_STAMP): bench/requirements-litellm.txt
	test -x $(LITELLM_VENV)/bin/python || $(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements-litellm.txt
	touch $(LITELLM_STAMP)

bench: $(STAMP) $(LITELLM_STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.live
	$(PY) -m bench.floor
	$(PY) -m bench.floor --concurrency 1 --reps 2
	$(PY) -m bench.floor --hold 1000 --reps 2
	$(PY) -m bench.accounting
	$(PY) -m bench.limiter
	$(PY) -m bench.edits
	$(PY) -m bench.scale
	if command -v valgrind >/dev/null; then $(PY) -m bench.instructions; \
	else echo "valgrind not found: no instruction counts (apt-get install valgrind)"; fi
	$(PY) -m bench.compare $(COMPARE_ARGS)

# Only the side-by-side with LiteLLM (~15 min; COMPARE_ARGS=--quick for a ~2-minute smoke). wrk makes a
# cheaper client than Python (apt-get install wrk); without it the harness says so and uses aiohttp.
bench-compare: $(STAMP) $(LITELLM_STAMP)
	command -v wrk >/dev/null || echo "wrk not found: the Python client will compete for the 2 cores (apt-get install wrk)"
	$(PY) -m bench.compare $(COMPARE_ARGS)

key: $(STAMP)
	$(PY) -m server.keys create --mode test --tier free

# The files compose.yaml mounts as secrets (never overwrites one); needs only python3.
compose-secrets:
	PYTHONPATH=. $(PYTHON) -m scripts.compose_secrets --dir secrets

clean:
	rm -rf $(VENV) $(LITELLM_VENV) var
