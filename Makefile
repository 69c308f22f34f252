# Porter's daily loop. `make run` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
PYTHON310 := $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'print(1)' >/dev/null 2>&1 && echo python3.10 || ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 2>/dev/null | head -n1)
VENV := .venv
BIN := $(VENV)/bin
export PORTER_VAR_DIR ?= $(CURDIR)/var
export RASA_CACHE_DIRECTORY ?= $(PORTER_VAR_DIR)/rasa-cache
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
export PORTER_TRACKER_DB ?= $(PORTER_VAR_DIR)/tracker.db
MODEL := $(PORTER_VAR_DIR)/models/porter.tar.gz
TRAINING_INPUTS := config.yml $(wildcard domain/*.yml languages/*.yml) \
	$(shell find data/nlu data/stories data/rules -name '*.yml' 2>/dev/null) \
	$(wildcard bot/nlu/*.py) bot/identifiers.py
DEMO_ANCHOR := 2026-11-01T00:00:00Z
WEB_DIR := bot/web
WIDGET := $(WEB_DIR)/node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: install install-web browser engines run run-cluster bench bench-cluster bench-analytics shell train test unit lint validate test-stories pytest import-demo lock clean eval fuzz

$(VENV)/.installed: requirements.lock
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (Rasa 3.6 needs it); install python3.10"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON310) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==24.0
	$(BIN)/pip install --quiet -r requirements.lock
	@touch $@

# The storefront's chat widget (rasa-webchat), pinned by bot/web/package-lock.json and served by our web server.
$(WIDGET): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found; the chat widget needs Node.js: apt-get install -y nodejs npm"; exit 1; }
	cd $(WEB_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

install-web: $(WIDGET)

# Browser tests drive Debian's Chromium through Playwright (`playwright install` cannot download here).
$(CHROMIUM):
	@test "$$(id -u)" = 0 || { echo "error: $(CHROMIUM) is missing; install it with: sudo apt-get install -y chromium"; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

browser: $(CHROMIUM)

# `make run-cluster` and the cluster tests run Debian's Redis, HAProxy and PostgreSQL (bot/cluster/).
ENGINES := /usr/bin/redis-server /usr/sbin/haproxy
INITDB := $(firstword $(shell command -v initdb 2>/dev/null) $(wildcard /usr/lib/postgresql/*/bin/initdb) \
	/usr/lib/postgresql/15/bin/initdb)

$(ENGINES):
	@test "$$(id -u)" = 0 || { echo "error: $@ is missing; install it with: sudo apt-get install -y redis-server haproxy"; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server haproxy || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server haproxy; }

$(INITDB):
	@test "$$(id -u)" = 0 || { echo "error: PostgreSQL is missing; install it with: sudo apt-get install -y postgresql"; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

engines: $(ENGINES) $(INITDB)

install: $(VENV)/.installed $(WIDGET)

lock: ## re-pin requirements.lock from requirements.in in a throwaway venv
	rm -rf /tmp/porter-lock && $(PYTHON310) -m venv /tmp/porter-lock && /tmp/porter-lock/bin/pip install -q -r requirements.in
	{ echo "# Pinned by \`make lock\` from requirements.in; installs the same versions every time."; /tmp/porter-lock/bin/pip freeze; } > requirements.lock

import-demo: install
	$(BIN)/python -m bot orders import data/demo/orders.json --relative-to $(DEMO_ANCHOR)

# Trains only when training data, domain, config or the NLU components changed since the last model.
$(MODEL): $(VENV)/.installed $(TRAINING_INPUTS)
	@mkdir -p $(dir $@)
	$(BIN)/python -m bot replies
	$(BIN)/rasa train --config config.yml --domain domain --data data --out $(dir $@) --fixed-model-name porter
	@touch $@

train: $(MODEL)

# Deprecation warnings from Rasa's dependencies say nothing to an operator; keep the logs readable.
# PORTER_DEMO=1: the demo shop's `?customer=` sign-in (never in production; README "Security").
run: import-demo $(MODEL) $(WIDGET)
	PORTER_DEMO=1 PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python -m bot serve --model $(MODEL)

# PostgreSQL, Redis, 2 Rasa and 2 action servers behind HAProxy, the web server and the refund worker; the
# ports of `make run` (README, "Running on PostgreSQL and Redis"). The demo shop is imported into PostgreSQL.
run-cluster: install $(MODEL) $(WIDGET) engines
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python -m bot cluster --model $(MODEL) --demo

# Porter beside a bare `rasa init` bot (trained once under var/bench): p50/p95, messages/s, CPU and memory for one
# shopper and for 20 at once (BENCH_ARGS=--hour: Porter's memory over an hour of traffic). A benchmark, not a test.
bench: install $(MODEL)
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python -m benchmarks.speed $(BENCH_ARGS)

# Messages per second and p50/p95 latency, 20 concurrent REST conversations: embedded default, 1 and 2 replicas.
bench-cluster: install $(MODEL) engines
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python benchmarks/cluster_bench.py $(BENCH_ARGS)

# The analytics page's figures over a generated history of 100,000 conversations (BENCH_ARGS=--conversations N).
bench-analytics: install
	PYTHONWARNINGS=ignore $(BIN)/python benchmarks/analytics_bench.py $(BENCH_ARGS)

shell: import-demo $(MODEL)
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python -m bot serve --model $(MODEL) --shell

validate: install
	$(BIN)/python -m bot replies --check
	$(BIN)/rasa data validate --config config.yml --domain domain --data data

pytest: $(MODEL) $(WIDGET) $(CHROMIUM) engines
	$(BIN)/python -m pytest -q tests

# Test stories are predicted, never run against the action server; endpoints.yml still names its token.
test-stories: $(MODEL)
	PORTER_ACTION_TOKEN=$${PORTER_ACTION_TOKEN:-not-used-by-test-stories} $(BIN)/rasa test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors \
		--out $(PORTER_VAR_DIR)/results/stories

test: validate lint pytest test-stories

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The tests that need no trained model, browser or server (tests/support/needs.py), a file per core: under a
# minute, for every edit.
unit: $(VENV)/.installed
	PORTER_UNIT_TESTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile tests

eval: install ## train ours and Rasa's default pipeline, score on held-out data, write var/eval/report.md
	$(BIN)/python benchmarks/nlu_report.py --out $(PORTER_VAR_DIR)/eval $(EVAL_ARGS)

fuzz: $(MODEL) $(WIDGET) ## 10,000 hostile messages through REST and socket.io: 5xx, drops, foreign replies (all 0)
	$(BIN)/python benchmarks/fuzz.py $(FUZZ_ARGS)

clean:
	rm -rf $(PORTER_VAR_DIR)/models $(PORTER_VAR_DIR)/rasa-cache results
