# Two commands do all set-up: `make demo` and `make test` each create .venv from the lock file
# when it is missing or older than the lock, then do their job.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
export HOTLINE_DATA_ROOT ?= $(CURDIR)/data

.PHONY: demo test check lint ui lock clean ingest build report status

$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --requirement requirements.lock
	$(BIN)/pip install -qq --no-deps --editable .
	$(BIN)/python -c "import dagster, dbt, great_expectations, dagster_project"
	rm -rf dbt/target
	cd dbt && ../$(BIN)/dbt parse --quiet --profiles-dir .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hotline demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Run every expectation suite on the current warehouse (after `make demo`).
check: $(STAMP)
	$(BIN)/hotline check

# Day to day: new landing files into the lake (SOURCE=id for one source), the warehouse from
# the lake, the report of one year (YEAR=2019), and what is loaded, waiting or failing.
ingest: $(STAMP)
	$(BIN)/hotline ingest $(if $(SOURCE),--source $(SOURCE))

build: $(STAMP)
	$(BIN)/hotline build

report: $(STAMP)
	$(if $(YEAR),,$(error set YEAR, e.g. make report YEAR=2019))
	$(BIN)/hotline report --year $(YEAR)

status: $(STAMP)
	$(BIN)/hotline status

lint: $(STAMP)
	$(BIN)/ruff check .

ui: $(STAMP)
	$(BIN)/hotline ui

# Re-resolve the lock after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) dbt/target dbt/logs
