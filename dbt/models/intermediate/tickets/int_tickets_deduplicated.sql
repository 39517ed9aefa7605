-- One row per city and ticket id: the lake rows minus the versions a later export superseded.
-- A lake row is identified by its file, sheet and line; joining on its city as well lets a
-- filter on cities (fct_tickets' incremental builds) reach both sides.
with tickets as (

    select * from {{ ref('stg_lake__tickets') }}

),

superseded as (

    select city_code, file_sha256, source_sheet, source_row
    from {{ ref('int_ticket_versions_ranked') }}
    where not is_latest_version

)

select tickets.*
from tickets
anti join superseded
    on tickets.city_code = superseded.city_code
    and tickets.file_sha256 = superseded.file_sha256
    and tickets.source_sheet is not distinct from superseded.source_sheet
    and tickets.source_row = superseded.source_row
