# Two commands do all the setup on a fresh machine with Python 3.11:
#   make serve   start the API and the trainer on 127.0.0.1:8000 (default model trained if missing)
#   make test    install what the tests need and run them
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint ci bench-train bench-serve bench-ingest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[redis]'
	touch $@

# The tests also use scikit-learn (the bench extra): tests/process/test_real_data.py runs
# scripts/bench/real_data.py.
$(VENV)/.dev-installed: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/python scripts/serve.py

# pytest-xdist: one worker per core (at most 4), each test module on one worker, so a module's
# servers start once. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
test: $(VENV)/.dev-installed
	bash scripts/install_system_deps.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

ci:
	bash .ci/run

bench-train: $(VENV)/.dev-installed
	$(BIN)/python -m pip install --quiet -e '.[bench]' torch==2.13.0
	$(BIN)/python scripts/bench/bench_train.py

bench-serve: $(VENV)/.dev-installed
	bash scripts/install_system_deps.sh
	$(BIN)/python scripts/bench/bench_serve.py

# pandas is the yardstick only: it is no dependency of the product (it pickles).
bench-ingest: $(VENV)/.dev-installed
	$(BIN)/python -m pip install --quiet pandas==3.1.1 polars==2.1.0
	$(BIN)/python scripts/bench/bench_ingest.py --libraries

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
