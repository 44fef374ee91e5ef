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

# `make bench`: the benchmarks that need no data set, real audio, weights or browser, with small settings
# (about 15 minutes in all on this 2-core CPU at load 12-14; each script's docstring gives its full run).
BENCH_QUICK := \
	"bench_scan.py --files 200" \
	"bench_labels.py --repeats 50" \
	"bench_faults.py --per-kind 1 --seconds 3" \
	"bench_search.py --sizes 20k --data clustered --no-hnsw --queries 50" \
	"bench_similarity.py --sizes 1k,20k --data clustered --queries 20" \
	"bench_search_sets.py --tracks 2000 --kinds clustered --queries 10 --no-hnsw" \
	"bench_demo.py" \
	"bench_labeler.py --repeats 5" \
	"bench_triplet.py --dims 202 --tracks 12 --max-epochs 10" \
	"bench_sections.py --sections 100" \
	"bench_analysis.py --tracks 6" \
	"bench_style.py --clips 4 --demo-tracks 12" \
	"bench_export.py --windows 8"
# Run by hand (their docstrings say how): a rendered devset, real audio, OpenL3 weights, a workspace, a library with a
# trained head, chromium, or hours of training (bench_sections_loop.py and bench_sections_table.py are modules of
# bench_sections_devset.py).
BENCH_BY_HAND := bench_analysis_peers.py bench_analysis_speed.py bench_backbones.py bench_distill_ablation.py \
	bench_distill_draws.py bench_export_audio.py bench_key.py bench_labeler_web.py bench_openl3.py \
	bench_pipeline.py bench_search_model.py bench_search_real.py bench_sections_devset.py bench_sections_domain_map.py bench_sections_loop.py \
	bench_sections_selftrain.py bench_sections_fresh.py bench_torchopenl3.py bench_sections_table.py bench_distill_job.py bench_sections_bars.py \
	bench_distill_speed.py bench_distill_tiny.py bench_sections_targets.py bench_cli_cold.py \
	bench_sections_calibration.py bench_sections_peers.py bench_sections_selftrain_demo.py bench_distill_fusion.py \
	bench_search_track_stats.py bench_search_rerank.py bench_sections_model_file.py bench_search_unknown.py

bench: install
	@for b in $(BENCH_QUICK); do echo "== benchmarks/$$b"; $(BIN)/python benchmarks/$$b || exit 1; done
	@echo "not run here (data, weights, a browser or hours; see each docstring): $(BENCH_BY_HAND)"

clean-demo:
	rm -rf data/demo data/workbench.db data/workbench.db-wal data/workbench.db-shm
