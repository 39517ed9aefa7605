"""Dagster definitions by role: assets, checks, jobs, partitions, schedules, sensors, resources
and the dbt project."""

import warnings

import dagster as dg

# Single-run backfill policies are what make one dbt build per run: the beta notice is noise.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
