# Two commands on a fresh machine:
#   make demo   — set everything up and open JupyterLab on the tour notebook
#   make test   — set everything up and run the whole suite (pytest + nbval + JS tests)
# Servers without a browser: make demo-headless (prints the URL instead of opening it).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Jupyter refuses to run as root without this (containers, CI machines)
JUPYTER_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: demo demo-headless test test-python test-js setup chromium build clean

setup: $(STAMP)

# The venv sits below our package.json ("type": "module"); its own package.json keeps
# node from reading JupyterLab's CommonJS helper scripts inside it as ES modules.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	echo '{"type": "commonjs"}' > $(VENV)/package.json
	$(BIN)/pip install --quiet --upgrade pip

# node_modules first: the editable install's build hook bundles the JS with it.
$(STAMP): $(VENV)/bin/python pyproject.toml package.json package-lock.json
	npm ci --no-audit --no-fund
	$(BIN)/pip install --quiet -e ".[cpu,test]"
	npm run build
	touch $(STAMP)

build: $(STAMP)
	npm run build

chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the end-to-end tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The end-to-end tests need Chromium at $(CHROMIUM). Install it (Debian/Ubuntu: sudo apt-get install chromium)"; \
		echo "or point CHROMIUM=/path/to/chromium at one, then run make test again."; exit 1; \
	fi

test: setup chromium test-js test-python

test-js: $(STAMP)
	npm test

test-python: $(STAMP)
	XW_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest --nbval-lax --nbval-current-env tests notebooks

demo: setup
	$(BIN)/jupyter lab notebooks/tour.ipynb $(JUPYTER_ROOT)

demo-headless: setup
	$(BIN)/jupyter lab notebooks/tour.ipynb --no-browser --ip=127.0.0.1 $(JUPYTER_ROOT) $(DEMO_ARGS)

clean:
	rm -rf $(VENV) node_modules xai_widgets/static
