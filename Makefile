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

install: $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.run_local

test: $(STAMP)
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

key: $(STAMP)
	$(PY) -m server.keys create --mode test --tier free

# The files compose.yaml mounts as secrets (never overwrites one); needs only python3.
compose-secrets:
	PYTHONPATH=. $(PYTHON) -m scripts.compose_secrets --dir secrets

clean:
	rm -rf $(VENV) var
