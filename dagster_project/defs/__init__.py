"""Dagster definitions by role: assets, checks, jobs, partitions, schedules, sensors, resources
and the dbt project."""

import warnings

# Dagster's own BetaWarning (`dg.BetaWarning` is this class), from the package that defines it:
# importing `dagster` here would make every user of this package pay for Dagster's slow import
# (BENCHMARKS.md, "Figures that were in code comments").
from dagster_shared.utils.warnings import BetaWarning

# Single-run backfill policies are what make one dbt build per run: the beta notice is noise.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")
