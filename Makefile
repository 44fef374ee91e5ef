# The two commands: `make demo` and `make test`. Both create .venv and install everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= torch,notebook,export,dev,distributed
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

# librosa's numba JIT crashes on this CPU (no AVX2) unless told to target a generic one.
export NUMBA_CPU_NAME := generic

.PHONY: install demo test lint bench clean-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first, so the project's torch range is already met
	# (a bare `torch` would pull several GB of CUDA packages).
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

demo: install
	$(BIN)/workbench demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check workbench tests benchmarks

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-demo:
	rm -rf data/demo data/workbench.db data/workbench.db-wal data/workbench.db-shm
