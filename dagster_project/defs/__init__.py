"""Dagster definitions by role: assets, checks, resources and the dbt project."""
