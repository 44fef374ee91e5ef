# The two commands: `make demo` and `make test`. Both create .venv and install everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= torch,notebook,export,dev,distributed
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

# librosa's numba JIT crashes on this CPU (no AVX2) unless told to target a generic one.
export NUMBA_CPU_NAME := generic

# The browser labeler's front end (js/): npm installs it from the committed lock file and esbuild
# bundles it into $(JS_BUNDLE) (gitignored). Without npm, everything else still installs.
JS_BUNDLE := workbench/widgets/static/labeler.js
JS_DEPS   := js/node_modules/.installed

.PHONY: install js demo test lint bench clean-demo

install: $(STAMP) js

js:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(JS_BUNDLE); else \
	  echo "npm not found: the browser labeler (workbench.widgets.WebLabeler) needs its front end bundle."; \
	  echo "  Install Node.js 18+ with npm (https://nodejs.org, or: apt-get install nodejs npm), then run: make js"; \
	  echo "  Everything else is installed and works without it."; fi

$(JS_DEPS): js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund
	touch $@

$(JS_BUNDLE): $(JS_DEPS) $(wildcard js/src/*.js)
	cd js && npm run build

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
