# Every target builds what it needs from nothing: a dev venv (.venv), one venv
# per Gradio generation for the replica Spaces (.venvs/; gradio527 for the Qwen3 demo),
# one with Qwen-Agent's real WebUI for the 1M demo (.venvs/qwenagent),
# two with gpt4free (.venvs/g4f, and the newest release in .venvs/g4f-new),
# and one for the OpenAI clients that test `qwen-spaces serve`, each with uv for speed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
G4 := .venvs/gradio4
G5 := .venvs/gradio5
G6 := .venvs/gradio6
G527 := .venvs/gradio527
G4F := .venvs/g4f
QWENAGENT := .venvs/qwenagent
G4F_NEW := .venvs/g4f-new
OPENAI_VENV ?= .venvs/openai
export QWEN_SPACES_GRADIO4_PYTHON := $(CURDIR)/$(G4)/bin/python
export QWEN_SPACES_GRADIO5_PYTHON := $(CURDIR)/$(G5)/bin/python
export QWEN_SPACES_GRADIO6_PYTHON := $(CURDIR)/$(G6)/bin/python
export QWEN_SPACES_GRADIO527_PYTHON := $(CURDIR)/$(G527)/bin/python
export QWEN_SPACES_QWENAGENT_PYTHON := $(CURDIR)/$(QWENAGENT)/bin/python
export QWEN_SPACES_G4F_PYTHON := $(CURDIR)/$(G4F)/bin/python
export QWEN_SPACES_G4F_NEW_PYTHON := $(CURDIR)/$(G4F_NEW)/bin/python
export QWEN_SPACES_OPENAI_PYTHON := $(abspath $(OPENAI_VENV))/bin/python

.PHONY: all demo test unit lint verifytypes bench venvs clean dist docs doctest

all: test

# qwen_spaces/__init__.py holds the version: a bump reinstalls, so the metadata agrees.
$(BIN)/.done: setup.cfg setup.py qwen_spaces/__init__.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q uv
	$(UV) pip install -q -p $(BIN)/python -e '.[test,dev]' 'nbclient>=0.10' ipykernel ipywidgets
	touch $@

# The three Gradio generations conflict, so each gets its own venv; 4.44 with
# modelscope_studio 0.5.2 needs huggingface_hub<0.26, 5.12 needs requests beside it.
$(G4)/.done: $(BIN)/.done
	$(UV) venv -q --allow-existing -p $(PY) $(G4)
	$(UV) pip install -q -p $(G4)/bin/python 'gradio==4.44.1' 'modelscope_studio==0.5.2' 'huggingface_hub<0.26' uvicorn
	touch $@

$(G5)/.done: $(BIN)/.done
	$(UV) venv -q --allow-existing -p $(PY) $(G5)
	$(UV) pip install -q -p $(G5)/bin/python 'gradio==5.12.0' requests uvicorn
	touch $@

$(G6)/.done: $(BIN)/.done
	$(UV) venv -q --allow-existing -p $(PY) $(G6)
	$(UV) pip install -q -p $(G6)/bin/python 'gradio==6.31.0' uvicorn
	touch $@

# The Qwen3 demo's stack (tests/support/replicas/qwen3_app.py): Gradio 5.27 with the
# modelscope_studio 1.x that has pro.Chatbot, antdx.Sender and antd.Form.
$(G527)/.done: $(BIN)/.done
	$(UV) venv -q --allow-existing -p $(PY) $(G527)
	$(UV) pip install -q -p $(G527)/bin/python 'gradio==5.27.0' 'modelscope_studio==1.6.1' requests uvicorn
	touch $@

# The 1M demo's page is Qwen-Agent's own WebUI (tests/support/replicas/webui_launcher.py runs the
# real package): its `gui` extra pins Gradio 5.1.0, which needs the older huggingface_hub;
# with today's starlette (1.x) Gradio 5.1's page answers 500, so launch()'s own check of it
# fails and the server exits ("When localhost is not accessible..."): FastAPI of its time.
$(QWENAGENT)/.done: $(BIN)/.done
	$(UV) venv -q --allow-existing -p $(PY) $(QWENAGENT)
	$(UV) pip install -q -p $(QWENAGENT)/bin/python 'qwen-agent[gui,rag]==0.0.16' \
		'huggingface_hub<0.26' 'fastapi<0.116'
	touch $@

# gpt4free, to drive the providers through its own client (tests/integration/test_g4f.py).
# g4f 0.5.5.0 imports nodriver without declaring it; 0.47.0 installs and imports offline.
# The project is installed editable; the tests also put this checkout first on PYTHONPATH.
$(G4F)/.done: $(BIN)/.done setup.cfg setup.py
	$(UV) venv -q --allow-existing -p $(PY) $(G4F)
	$(UV) pip install -q -p $(G4F)/bin/python 'g4f==0.5.5.0' 'nodriver==0.47.0' -e .
	touch $@

# The newest gpt4free (8.8.x), which ships no Qwen provider of its own: its users pass ours.
# It installs and imports offline (deps: aiohttp, brotli, nest-asyncio2, pycryptodome, requests).
$(G4F_NEW)/.done: $(BIN)/.done setup.cfg setup.py
	$(UV) venv -q --allow-existing -p $(PY) $(G4F_NEW)
	$(UV) pip install -q -p $(G4F_NEW)/bin/python 'g4f==8.8.6' -e .
	touch $@

# The real clients of the OpenAI-compatible server. They speak HTTP to a
# `qwen-spaces serve` subprocess, so the project itself is not installed here.
$(OPENAI_VENV)/.done: $(BIN)/.done Makefile
	$(UV) venv -q --allow-existing -p $(PY) $(OPENAI_VENV)
	$(UV) pip install -q -p $(OPENAI_VENV)/bin/python openai langchain-openai langchain-qwq
	touch $@

venvs: $(BIN)/.done $(G4)/.done $(G5)/.done $(G6)/.done $(G527)/.done $(QWENAGENT)/.done $(G4F)/.done $(G4F_NEW)/.done $(OPENAI_VENV)/.done

demo: $(BIN)/.done $(G5)/.done
	$(BIN)/python examples/demo.py

# The tiers are folders of tests/ (tests/README.rst). Tests of one file share a pytest-xdist
# worker (--dist loadfile): module fixtures start once and a file's order holds. WORKERS=0 runs
# everything in one process; `auto` is one worker per CPU (at most 4).
WORKERS ?= auto
PYTEST := -m pytest -q -p no:cacheprovider
XDIST = -n $(WORKERS) --maxprocesses 4 --dist loadfile
# What needs only .venv and no server of another process: `make unit`, and `make dist`'s check.
UNIT_TIERS := tests/core tests/client tests/testing_kit tests/package tests/apps/providers

# Every test, in three runs that split the suite by mark: the tiers that wait on loopback servers
# in this process run in workers; then the timing measurements (`slow`, and `timing`: a
# wall-clock limit that anything running beside it would break) alone, on a quiet machine; then
# the integration tier in one process (each worker would start its own dozen replica Spaces,
# and the replicas all start at once when its run begins). All three run; any failing fails.
test: venvs
	$(BIN)/python $(PYTEST) $(XDIST) -m "not integration and not slow and not timing"; first=$$?; \
	$(BIN)/python $(PYTEST) -m "(slow or timing) and not integration"; second=$$?; \
	$(BIN)/python $(PYTEST) -m integration; third=$$?; \
	test $$first -eq 0 && test $$second -eq 0 && test $$third -eq 0

# The fast loop (.venv only, well under a minute): the sans-I/O core, the clients in process,
# the testing kit, the package's shape and the providers; not the long timing measurement.
unit: $(BIN)/.done
	$(BIN)/python $(PYTEST) $(XDIST) -m "not slow" $(UNIT_TIERS)

lint: $(BIN)/.done
	$(BIN)/ruff check qwen_spaces tests benchmarks examples docs scripts
	$(BIN)/ruff format --check qwen_spaces tests benchmarks examples docs scripts
	$(BIN)/mypy qwen_spaces scripts/unasync.py scripts/verifytypes.py
# sync_client.py must be async_client.py with async taken out, but for the real
# differences scripts/unasync.py names (httpcore's unasync --check).
	$(BIN)/python scripts/unasync.py
# The typed public surface, 95% or more known (a few seconds, offline: Node.js comes as a wheel).
	$(BIN)/python scripts/verifytypes.py

# The typed public surface: pyright's --verifytypes score of what qwen_spaces, .testing and
# .providers export (types of other packages left out), 95% or more.
verifytypes: $(BIN)/.done
	$(BIN)/python scripts/verifytypes.py

# The package as users get it: build the sdist and the wheel, check their metadata, install the
# wheel alone in a fresh venv, and run `make unit`'s tiers from the unpacked sdist (against that
# sdist's own files; the test extra and IPython are their needs). build and twine live in a
# venv of their own, not in the project's dependencies.
TOOLS := .venvs/tools
DIST_VENV := .venvs/dist
SDIST_DIR := build/sdist-check

$(TOOLS)/.done: $(BIN)/.done
	$(UV) venv -q --allow-existing -p $(PY) $(TOOLS)
	$(UV) pip install -q -p $(TOOLS)/bin/python 'build>=1.2' 'twine>=6.1'
	touch $@

dist: $(TOOLS)/.done
	rm -rf dist $(DIST_VENV) $(SDIST_DIR)
	$(TOOLS)/bin/python -m build -o dist .
	$(TOOLS)/bin/twine check --strict dist/*
	$(UV) venv -q -p $(PY) $(DIST_VENV)
	$(UV) pip install -q -p $(DIST_VENV)/bin/python dist/*.whl
	cd / && $(abspath $(DIST_VENV))/bin/python $(CURDIR)/tests/support/wheel_check.py
	$(DIST_VENV)/bin/qwen-spaces --version
	$(UV) pip install -q -p $(DIST_VENV)/bin/python "$$(ls dist/*.whl)[test]" ipython
	mkdir -p $(SDIST_DIR) && tar -xzf dist/*.tar.gz -C $(SDIST_DIR) --strip-components=1
	cd $(SDIST_DIR) && $(abspath $(DIST_VENV))/bin/python $(PYTEST) $(XDIST) -m "not slow" $(UNIT_TIERS)

# The documentation site (docs/), warnings as errors, offline: intersphinx reads the inventories
# checked into docs/_inventories. doctest runs the guides' examples against FakeSpace.
DOCS_VENV := .venvs/docs

$(DOCS_VENV)/.done: $(BIN)/.done setup.cfg setup.py
	$(UV) venv -q --allow-existing -p $(PY) $(DOCS_VENV)
	$(UV) pip install -q -p $(DOCS_VENV)/bin/python -e '.[docs,test]'
	touch $@

docs: $(DOCS_VENV)/.done
	$(DOCS_VENV)/bin/sphinx-build -q -W --keep-going -b html docs build/docs/html

doctest: $(DOCS_VENV)/.done
	$(DOCS_VENV)/bin/sphinx-build -q -W --keep-going -b doctest docs build/docs/doctest

bench: venvs
	$(UV) pip install -q -p $(BIN)/python -e '.[bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .venvs build dist *.egg-info
