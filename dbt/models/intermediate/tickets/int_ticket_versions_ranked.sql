-- Every lake row of a work order, ranked newest first: a corrected re-export supersedes the
-- earlier one. Only ticket ids that occur more than once need a ranking (re-exports are a
-- few percent of the rows), so the window runs over those rows and their keys alone.
-- The lake's rows are read where they are used, not through one CTE: DuckDB would buffer a CTE
-- read twice (every key column of every row), out of the reach of a filter on cities
-- (fct_tickets' incremental builds). `reexported`, read twice, is buffered: a few percent of
-- the ids, two columns.
{{ ticket_versions(ref('stg_lake__tickets')) }}
