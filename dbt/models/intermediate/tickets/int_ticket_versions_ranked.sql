-- Every lake row of a work order, superseded files included, ranked newest first: a corrected
-- re-export supersedes the earlier one (macros ticket_versions and reexported_versions). For
-- analysts and the unit test of the ranking; int_tickets_deduplicated ranks the current files'
-- re-exported versions directly, as a filter on cities does not reach through this view's union.
{{ ticket_versions(ref('stg_lake__ticket_versions')) }}
