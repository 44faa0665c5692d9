# fcrlab — every target creates .venv when it is missing; nothing else needs to be installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= notebook,test,bench
# The bundled sample is synthetic: its notebooks and report use a fixed, public salt so their
# outputs are reproducible (SPEC §4). Real data: set your own secret FCRLAB_SALT.
SAMPLE_SALT := FCRLAB_SALT=fcrlab-public-sample-salt

.PHONY: help venv test lint report notebooks lab workshop bench lock clean chromium

help:
	@echo "make report     run the weekly report on the bundled sample, print where the HTML is"
	@echo "make test       ruff + the whole test suite, nbval on the notebooks included"
	@echo "make notebooks  re-execute the committed notebooks in place on the bundled sample"
	@echo "make lab        JupyterLab on the notebooks"
	@echo "make workshop   the workshop app (Voila) on http://127.0.0.1:8866"
	@echo "make bench      benchmarks against DuckDB and pandas (1M contacts by default)"
	@echo "make lock       re-pin constraints.txt from pyproject.toml (fresh venv, then pip freeze)"

venv: $(STAMP)

# constraints.txt pins every package to the versions the suite was tested with (nbval compares
# outputs, and new versions change them); `make lock` refreshes it.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	$(BIN)/python -m ipykernel install --sys-prefix --name fcrlab --display-name "fcrlab" >/dev/null
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser tests drive Debian's chromium (never a downloaded browser); install it if missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	    echo "installing Debian's chromium for the browser tests"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: lint chromium
	$(SAMPLE_SALT) $(BIN)/python -m pytest -q -p no:cacheprovider tests \
	    --nbval notebooks --nbval-sanitize-with tests/sanitize.cfg

report: $(STAMP)
	$(SAMPLE_SALT) $(BIN)/fcrlab report --params parameters/sample.yaml --out reports

# Executed in place from notebooks/ with their own defaults, which are the bundled sample.
notebooks: $(STAMP)
	cd notebooks && for nb in 0*.ipynb; do \
	    $(SAMPLE_SALT) ../$(BIN)/papermill --no-progress-bar -k fcrlab --cwd . "$$nb" "$$nb" || exit 1; \
	done

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks --allow-root

workshop: $(STAMP)
	$(SAMPLE_SALT) $(BIN)/voila notebooks/04_workshop.ipynb --no-browser --port=8866 \
	    --Voila.ip=127.0.0.1

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_repeats.py

lock:
	rm -rf /tmp/fcrlab-lock && $(PYTHON) -m venv /tmp/fcrlab-lock
	/tmp/fcrlab-lock/bin/python -m pip install --quiet --upgrade pip
	/tmp/fcrlab-lock/bin/python -m pip install --quiet -e '.[notebook,test,bench]'
	/tmp/fcrlab-lock/bin/python -m pip freeze --exclude-editable | grep -v '^fcrlab' > constraints.txt
	@echo "constraints.txt updated: review the diff, then make test"

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis
