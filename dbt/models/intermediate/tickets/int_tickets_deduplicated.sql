-- One row per city and ticket id: the latest version (int_ticket_versions_ranked).
with versions as (

    select * from {{ ref('int_ticket_versions_ranked') }}

)

select * exclude (version_rank, is_latest_version)
from versions
where is_latest_version
