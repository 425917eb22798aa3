# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Fedify server that tests/test_fedify_interop.py federates with: its npm packages.
PEER := tests/fedify_peer
PEER_STAMP := $(PEER)/node_modules/.installed
# megalodon, run by tests/test_megalodon.py against a live Kith: its npm packages.
MEGALODON := tests/megalodon_client
MEGALODON_STAMP := $(MEGALODON)/node_modules/.installed

.PHONY: run test lint format clean bench tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# System tools from Debian: ffmpeg (and ffprobe) process video and audio uploads. Installed when
# missing, so a fresh machine and CI get them from `make test` or `make run` alone; without apt-get
# (or root) the server still runs and answers video and audio uploads with a 422 saying so.
tools:
	@if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "make: installing ffmpeg (apt-get)" >&2; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq \
				&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null \
				|| echo "make: apt-get install ffmpeg failed; video and audio uploads will be refused" >&2; \
		else \
			echo "make: ffmpeg is missing (apt-get install ffmpeg); video and audio uploads will be refused" >&2; \
		fi; \
	fi

# Without npm, or when the install fails, the suite still runs and the interop test fails
# saying what is missing.
$(PEER_STAMP): $(PEER)/package.json $(PEER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(PEER) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed \
			|| echo "make: npm ci in $(PEER) failed; the Fedify interop test will fail" >&2; \
	else \
		echo "make: npm is not installed; the Fedify interop test will fail" >&2; \
	fi

$(MEGALODON_STAMP): $(MEGALODON)/package.json $(MEGALODON)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(MEGALODON) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed \
			|| echo "make: npm ci in $(MEGALODON) failed; the megalodon test will fail" >&2; \
	else \
		echo "make: npm is not installed; the megalodon test will fail" >&2; \
	fi

# `make bench`: the benchmarks of docs/BENCHMARKS.md (not part of `make test`). They use wrk when
# it is installed (apt-get install wrk) and a Python load generator otherwise.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run_all

run: $(STAMP) tools
	$(BIN)/kith serve

# The type checker first (its settings and folders are pyproject.toml's [tool.mypy]): a type
# error fails the run before the suite starts. The suite runs in two processes (pytest-xdist),
# each with its own embedded PostgreSQL: most of a test's time is spent waiting (subprocesses,
# sockets, the database), so two halve the run on this 2-core machine (6.5 -> 3.4 min).
test: $(STAMP) $(PEER_STAMP) $(MEGALODON_STAMP) tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache
