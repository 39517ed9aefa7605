# Two commands do all set-up: `make demo` and `make test` each create .venv from the lock file
# when it is missing or older than the lock, then do their job.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed-from-lock
export HOTLINE_DATA_ROOT ?= $(CURDIR)/data

# Debian packages the demo needs to publish its PDF: a CJK font and fontconfig (whose fc-list
# checks that the font covers the text), Pango (and HarfBuzz subsetting) for WeasyPrint. The
# tests need these and Chromium for the browser tests, poppler-utils (pdftotext, pdffonts) for
# the PDF tests, and Java for the warehouse on Spark (the engines' parity test).
DEMO_DEBIAN_PACKAGES := fonts-noto-cjk fontconfig libpango-1.0-0 libpangoft2-1.0-0 \
	libharfbuzz-subset0
SPARK_DEBIAN_PACKAGES := openjdk-17-jre-headless
TEST_DEBIAN_PACKAGES := $(DEMO_DEBIAN_PACKAGES) $(SPARK_DEBIAN_PACKAGES) chromium poppler-utils
DEBIAN_PACKAGES ?= $(TEST_DEBIAN_PACKAGES)

.PHONY: demo test check lint ui lock clean system-packages ingest build refresh report publish \
	status spark-env

$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --requirement requirements.lock
	$(BIN)/pip install -qq --no-deps --editable .
	$(BIN)/python -c "import dagster, dbt, great_expectations, dagster_project"
	rm -rf dbt/target
	cd dbt && ../$(BIN)/dbt parse --quiet --profiles-dir .
	touch $(STAMP)

# The Spark engine's own environment (dbt-spark, PySpark), from its lock, whose pins agree with
# the main one: kept apart from .venv, where PySpark would change what other libraries import.
$(SPARK_STAMP): requirements-spark.lock
	rm -rf $(SPARK_VENV)
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install -qq --requirement requirements-spark.lock
	$(SPARK_VENV)/bin/python -c "import pyspark, dbt.adapters.spark"
	touch $(SPARK_STAMP)

spark-env: $(SPARK_STAMP)

# HOTLINE_ENGINE=spark builds the warehouse on Spark (docs/scale-out.md).
demo: $(STAMP) $(if $(filter spark,$(HOTLINE_ENGINE)),$(SPARK_STAMP))
	$(MAKE) --no-print-directory system-packages DEBIAN_PACKAGES="$(DEMO_DEBIAN_PACKAGES) \
		$(if $(filter spark,$(HOTLINE_ENGINE)),$(SPARK_DEBIAN_PACKAGES))"
	$(BIN)/hotline demo

# Installs the missing ones only (apt-get, as root); does nothing when all are present.
system-packages:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "missing Debian packages:$$missing (install them as root)"; exit 1; \
		fi; \
		echo "installing Debian packages:$$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends $$missing; \
	fi

# The suite on every core (pytest-xdist), a module's tests on one worker so that its
# fixtures are built once; TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= auto
test: $(STAMP) $(SPARK_STAMP) system-packages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Run every expectation suite on the current warehouse (after `make demo`).
check: $(STAMP)
	$(BIN)/hotline check

# Day to day: new landing files into the lake (SOURCE=id for one source), the warehouse from
# the lake, both and the reports they change in one go (HTML), the report of one year
# (YEAR=2019), the year's publication (its pages and PDF), and what is loaded, waiting or
# failing.
ingest: $(STAMP)
	$(BIN)/hotline ingest $(if $(SOURCE),--source $(SOURCE))

build: $(STAMP)
	$(BIN)/hotline build

refresh: $(STAMP)
	$(BIN)/hotline refresh

report: $(STAMP)
	$(if $(YEAR),,$(error set YEAR, e.g. make report YEAR=2019))
	$(BIN)/hotline report --year $(YEAR)

publish: $(STAMP)
	$(if $(YEAR),,$(error set YEAR, e.g. make publish YEAR=2019))
	$(MAKE) --no-print-directory system-packages DEBIAN_PACKAGES="$(DEMO_DEBIAN_PACKAGES)"
	$(BIN)/hotline publish --year $(YEAR)

status: $(STAMP)
	$(BIN)/hotline status

lint: $(STAMP)
	$(BIN)/ruff check .

ui: $(STAMP)
	$(BIN)/hotline ui

# Re-resolve the lock after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	uv pip compile requirements-spark.in --python-version 3.11 -c requirements.lock \
		-o requirements-spark.lock

clean:
	rm -rf $(VENV) $(SPARK_VENV) dbt/target dbt/logs
