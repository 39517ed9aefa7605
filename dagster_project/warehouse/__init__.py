"""The warehouse stage's own machinery, without Dagster: the dbt project on disk (`dbt_files`),
what a build was made from (`build_state`), and how a finished build replaces the live file
(`publish`). The Dagster assets that run dbt (`defs/assets/warehouse.py`) use these."""
