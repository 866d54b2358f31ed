# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
TEST_STAMP    := $(VENV)/.test-installed

.PHONY: install install-test run test test-slow lint typecheck bench clean

install: $(RUNTIME_STAMP)  ## create/refresh .venv with the service installed

$(RUNTIME_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(TEST_STAMP): $(RUNTIME_STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

install-test: $(TEST_STAMP)

run: $(RUNTIME_STAMP)  ## start the all-in-one service with the demo data at http://127.0.0.1:8080
	$(BIN)/travelinfo run

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The suite runs over TEST_WORKERS pytest-xdist workers, one test file per worker at a time so
# that a file's shared browser or server starts once, files in collection order (tests/conftest.py
# puts the long tests first). Three workers on two cores: most tests wait on servers, processes
# and the browser, so a third overlaps those waits (measured: 182 s with 3, 239 s with 2, 201 s
# with 4). `make test-slow` uses SLOW_WORKERS (2): its axe-matrix browsers are CPU-bound. The
# tests marked `realtime` assert a wall-clock bound (a stalled loop, a shutdown within 2 s, a
# timeout answered in time); with other workers competing for the cores they missed it, so they
# run afterwards in one process. Both steps run, and either one failing fails the target.
# TEST_WORKERS=0: everything in one process, in one step (test-slow too).
TEST_WORKERS ?= 3
SLOW_WORKERS ?= $(if $(filter 0,$(TEST_WORKERS)),0,2)
# The suite keeps its bytecode caches (git-ignored __pycache__) even where the environment sets
# PYTHONDONTWRITEBYTECODE: without them each pytest process rewrites every test module again
# (collection: 22 s instead of 4 s) and each `travelinfo` a test starts compiles the package.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -ra
# $(call suite,MARKERS,WORKERS)
suite = if [ "$(2)" = 0 ]; then $(PYTEST) -m "$(1)"; else status=0; \
	echo "== over $(2) workers (load average: $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	$(PYTEST) -n $(2) --dist loadfile --no-loadscope-reorder -m "$(1) and not realtime" || status=$$?; \
	echo "== the realtime tests, in one process (load average: $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	$(PYTEST) -m "$(1) and realtime" || status=$$?; exit $$status; fi

test: $(TEST_STAMP) lint typecheck  ## lint, type-check and run the suite (slow end-to-end tests: make test-slow)
	@$(call suite,not slow,$(TEST_WORKERS))

test-slow: $(TEST_STAMP)  ## the slow end-to-end process tests (CI runs them after make test)
	@$(call suite,slow,$(SLOW_WORKERS))

bench: $(TEST_STAMP)  ## run the benchmarks (ratios against baselines measured in the same run)
	@failed=""; for b in store datex2_parse serve push impacts push_web; do echo "== bench/$$b.py (load average: $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	  $(BIN)/python bench/$$b.py || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "benches missing their targets:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm .mypy_cache .ruff_cache .pytest_cache
