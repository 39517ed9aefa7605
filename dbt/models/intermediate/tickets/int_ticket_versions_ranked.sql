-- Every row of every ticket export, ranked among the versions of the same ticket: a ticket
-- exported more than once (re-exports, corrected files) keeps its latest version, i.e. the
-- latest ingestion, then the latest file name, then the last row of that file.
with tickets as (

    select * from {{ ref('stg_lake__tickets') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by city_code, ticket_id
            order by ingested_at desc, source_file desc, source_row desc
        ) as version_rank

    from tickets

)

select
    *,
    version_rank = 1 as is_latest_version

from ranked
