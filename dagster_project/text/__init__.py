"""Warehouse -> text: what the tickets' texts say, beyond the labels the cities gave them.

Two analyses of the masked titles and contents the warehouse shows (fct_ticket_texts):

- `classifier`: a model of the national taxonomy, learned per data root from the tickets whose
  label a mapping places, predicts a class for those no mapping places (未分类).
- `hot_issues`: tickets about the same problem at the same place within a few days, grouped
  into 热点议题 with a 热度 index, and the issues that recur across cities.

`run.analyse` writes both as Parquet files in `<data root>/text/`, which the warehouse's
`text` source reads (dbt/models/staging/text); docs/text-analysis.md explains the methods.
"""
