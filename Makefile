# The two commands of the README: `make run` and `make test`. Each creates the virtual
# environment and installs what it needs on first use.

VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
PYTHON ?= python3

.PHONY: run test lint bench bench-console bench-load bench-instances clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/touchpoint run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The tests start a private PostgreSQL cluster of their own (tests/services/postgres.py) unless
# TOUCHPOINT_TEST_POSTGRES_URL names one; the system cluster is never started or changed.
test: lint
	$(BIN)/pytest

# The dispatcher benchmark runs on a private cluster too (fsync on), removed when it ends.
bench: $(STAMP)
	$(BIN)/python -m tests.services.postgres --env TOUCHPOINT_BENCH_POSTGRES_URL -- \
		$(BIN)/python -m bench.dispatcher
	$(BIN)/python -m tests.services.postgres --env TOUCHPOINT_BENCH_POSTGRES_URL -- \
		$(BIN)/python -m bench.relay
	$(BIN)/python -m bench.route_accuracy

# The console over 100,000 contacts and a million touchpoints, on SQLite and a private cluster.
bench-console: $(STAMP)
	$(BIN)/python -m tests.services.postgres --env TOUCHPOINT_BENCH_POSTGRES_URL -- \
		$(BIN)/python -m bench.console

# An open load of 100 updates/s for 60 s on `touchpoint run`'s Telegram webhook, on an empty
# database and on one with 100,000 contacts; on SQLite and a private cluster.
bench-load: $(STAMP)
	$(BIN)/python -m tests.services.postgres --env TOUCHPOINT_BENCH_POSTGRES_URL -- \
		$(BIN)/python -m bench.load --contacts 100000

# One against two `touchpoint run` in webhook mode on one private cluster: updates per second
# and the CPU of each process.
bench-instances: $(STAMP)
	$(BIN)/python -m tests.services.postgres --env TOUCHPOINT_BENCH_POSTGRES_URL -- \
		$(BIN)/python -m bench.instances

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
