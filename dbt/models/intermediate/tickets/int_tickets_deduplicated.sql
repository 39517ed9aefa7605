-- One row per city and ticket id: the lake rows minus the versions a later export superseded.
-- A lake row is identified by its file, sheet and line. A left join keeps the rows that match
-- no superseded version: DuckDB carries a filter on cities (fct_tickets' incremental builds)
-- across it to the superseded side, where an anti join would rank every city's versions.
with tickets as (

    select * from {{ ref('stg_lake__tickets') }}

),

superseded as (

    select
        city_code,
        file_sha256,
        source_sheet,
        source_row,
        true as is_superseded

    from ({{ reexported_versions(ref('stg_lake__tickets')) }}) as versions
    where version_rank > 1

)

select tickets.*
from tickets
left join superseded
    on {{ same_lake_row('tickets', 'superseded') }}
where superseded.is_superseded is null
