# The two commands a new user needs: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-demo demo test test-fast lint bench bench-isolation docker-engine clean

setup:
	scripts/setup.sh test

setup-demo:
	scripts/setup.sh demo

demo: setup-demo
	$(VENV)/bin/nbrepro check examples/demo-repo --json demo-results.json; \
	  status=$$?; echo "(exit code $$status; results in demo-results.json)"; \
	  [ $$status -le 1 ]

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check checker extension tests benchmarks
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/api_load.py

# The docker backend's engine and, without a registry, the offline base image (CI runs these).
docker-engine:
	scripts/docker-engine.sh
	scripts/base-image.sh

bench-isolation: setup docker-engine
	$(PY) benchmarks/isolation.py

clean:
	rm -rf $(VENV) .pytest_cache demo-results.json
