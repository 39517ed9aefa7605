-- Every lake row of a work order, ranked newest first: a corrected re-export supersedes the
-- earlier one. Only ticket ids that occur more than once need a ranking (re-exports are a
-- few percent of the rows), so the window runs over those rows and their keys alone.
-- The lake's rows are read where they are used, not through one CTE: DuckDB would buffer a CTE
-- read twice (every key column of every row), out of the reach of a filter on cities
-- (fct_tickets' incremental builds). `reexported`, read twice, is buffered: a few percent of
-- the ids, two columns.
{%- set key_columns -%}
        city_code,
        ticket_id,
        source_id,
        source_file,
        file_sha256,
        source_sheet,
        source_row,
        ingested_at
{%- endset %}

with reexported as (

    select city_code, ticket_id
    from {{ ref('stg_lake__tickets') }}
    group by city_code, ticket_id
    having count(*) > 1

),

ranked as (

    select
        tickets.*,
        row_number() over (
            partition by city_code, ticket_id
            order by ingested_at desc, source_file desc, source_sheet desc, source_row desc
        ) as version_rank

    from (select {{ key_columns }} from {{ ref('stg_lake__tickets') }}) as tickets
    semi join reexported using (city_code, ticket_id)

),

exported_once as (

    select
        tickets.*,
        1 as version_rank

    from (select {{ key_columns }} from {{ ref('stg_lake__tickets') }}) as tickets
    anti join reexported using (city_code, ticket_id)

),

versions as (

    select * from exported_once
    union all
    select * from ranked

)

select
    *,
    version_rank = 1 as is_latest_version

from versions
