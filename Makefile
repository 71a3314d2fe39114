# CityLink: every target sets up what it needs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.10
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/citylink.tar.gz
STOCK_MODEL := models/stock.tar.gz

export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
# Training shows progress, but at most every 10 s (not thousands of lines in logs).
export TQDM_MININTERVAL := 10
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:5055/webhook
# The bot runs the custom actions itself; set it empty to use the action server at the URL above.
export CITYLINK_ACTIONS_MODULE ?= actions
export TRACKER_DIALECT ?= sqlite
export TRACKER_URL ?= sqlite:///$(CURDIR)/var/tracker.db
export CITYSIM_URL ?= http://127.0.0.1:5080
export LOCK_STORE_PATH ?= $(CURDIR)/var/locks.db

DATA_SOURCES := domain.yml $(shell find data -name '*.yml' 2>/dev/null | grep -v '/generated/')
NLU_SOURCES := config.yml $(DATA_SOURCES) $(shell find common bot/nlu -name '*.yml' -o -name '*.py' 2>/dev/null)
RESOURCES := var/jieba/userdict.txt data/nlu/generated/lookups.yml

.PHONY: all install resources services train run shell retention lint test test-stock-rasa eval validate bench clean browser postgres admin console console-bench handoff-bench cluster-deps cluster cluster-down deploy-tools

all: test

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<24" setuptools==70.3.0 wheel==0.45.1
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

$(RESOURCES) &: $(VENV)/.installed $(shell find common/gazetteer -type f) tools/build_nlu_resources.py common/normalizer.py
	$(PY) -m tools.build_nlu_resources
	touch $(RESOURCES)

resources: $(RESOURCES)

# The domain's forms and data/rules/services.yml from the service manifest
# (committed; rewritten only when their text changes, so no needless retraining).
SERVICES_STAMP := var/.services
$(SERVICES_STAMP): $(VENV)/.installed common/services.yml common/services.py tools/build_services.py domain.yml data/rules/services.yml
	$(PY) -m tools.build_services
	mkdir -p var && touch $@

services: $(SERVICES_STAMP)

# Browser tests drive Debian's Chromium; CJK fonts so screenshots show Chinese.
browser:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "cjk" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk)

# Trains only when training data, dictionaries, config or components changed.
$(MODEL): $(VENV)/.installed $(SERVICES_STAMP) $(RESOURCES) $(NLU_SOURCES)
	mkdir -p models var
	$(RASA) train --fixed-model-name citylink --out models
	touch $@

train: $(MODEL)

validate: $(VENV)/.installed $(SERVICES_STAMP) $(RESOURCES)
	$(PY) -m tools.validate

run: $(MODEL)
	$(PY) -m tools.stack run

# The staff console alone (make run starts it with the rest): http://127.0.0.1:5090/
console: $(VENV)/.installed
	$(PY) -m console

# The first console admin; there is no default account or password.
# make admin NAME=alice asks for the password (or reads it from stdin).
admin: $(VENV)/.installed
	$(PY) -m console.admin create $(or $(NAME),admin) --role admin

shell: $(MODEL)
	$(PY) -m tools.stack shell

# Delete conversations past their city's retention period (make run also does it hourly).
retention: $(VENV)/.installed
	$(PY) -m tools.retention

# The tracker store is also tested against a throwaway PostgreSQL server (tests/postgres.py).
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

# Several bot nodes share Redis (locks, WeChat state) behind HAProxy: make cluster
# runs them, and the tests start their own redis-server (tests/redis_server.py).
cluster-deps: postgres
	@command -v redis-server >/dev/null && command -v haproxy >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server haproxy)

# Two bot nodes, Redis, PostgreSQL, HAProxy on 127.0.0.1:5100 (CLUSTER_PORT); README "Cluster".
cluster: $(MODEL) cluster-deps
	$(PY) -m tools.cluster up

cluster-down:
	$(PY) -m tools.cluster down

# kubectl (with kustomize), kubernetes-validate and check-jsonschema (the compose
# specification's schema ships with it) validate deploy/ offline, in their own
# virtualenv: they need newer jsonschema and packaging than Rasa's pins.
DEPLOY_VENV := .venv-deploy
$(DEPLOY_VENV)/.installed: requirements-deploy.txt
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet -r requirements-deploy.txt
	$(DEPLOY_VENV)/bin/pip check
	touch $@

deploy-tools: $(DEPLOY_VENV)/.installed

# ruff (lint everywhere, format check where the house branch owns the code:
# other packages adopt the formatter when their owners reformat them) and mypy
# on bot/ and actions/ (pyproject.toml).
FORMATTED := bot/patches bot/server.py bot/graph_runner.py common/services.py common/registry.py \
	tools/bench tools/build_services.py tests/test_patches.py tests/test_services.py tests/test_bench.py
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check $(FORMATTED)
	$(VENV)/bin/mypy

test: lint $(MODEL) validate browser postgres cluster-deps deploy-tools
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory test-stock-rasa

# The end-to-end conversations once more on a second live stack with every
# Rasa patch off (bot/patches/): the bot is correct on stock Rasa behaviour.
test-stock-rasa: $(MODEL)
	CITYLINK_PATCHES_OFF=all $(PY) -m pytest -q -p no:cacheprovider tests/test_conversations.py

# Rasa's stock Chinese pipeline on the same data, for comparison (~30 min on 2 cores,
# always a full training so the recorded time is one). Our code is not an input.
$(STOCK_MODEL): $(VENV)/.installed $(RESOURCES) $(DATA_SOURCES) configs/stock.yml
	$(PY) -m tools.evaluate --train-stock

eval: $(MODEL) $(STOCK_MODEL)
	$(PY) -m tools.evaluate --model $(MODEL) --stock
	$(PY) -m tools.evaluate --model $(MODEL) --stock --heldout tests/nlu/short_colloquial.yml
	$(PY) -m tools.evaluate --model $(MODEL) --stock --heldout tests/nlu/independent

# Speed, ours vs stock (docs/benchmarks.md). BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.installed $(RESOURCES)
	$(PY) -m tools.bench $(BENCH_ARGS)

# Handoff: time from a staff reply in the console to its arrival on the citizen's page (docs/benchmarks.md).
handoff-bench: $(MODEL)
	$(PY) -m tools.handoff_bench $(HANDOFF_BENCH_ARGS)

# The console on 100,000 generated conversations, SQLite and PostgreSQL (docs/benchmarks.md).
console-bench: $(VENV)/.installed postgres
	$(PY) -m tools.console_bench $(CONSOLE_BENCH_ARGS)

clean:
	rm -rf models results var data/nlu/generated
