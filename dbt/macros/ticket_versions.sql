{#- The versions of every work order (int_ticket_versions_ranked), from `tickets_relation`
    (the lake's tickets). `where` narrows the rows read: a filter on cities from outside the
    view does not reach `reexported`, which DuckDB buffers whole as it is read twice (for
    one city of 10 M tickets, 2.0 s against 0.6 s with the filter inside). -#}
{% macro ticket_versions(tickets_relation, where='true') -%}
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
    from {{ tickets_relation }}
    where {{ where }}
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

    from (select {{ key_columns }} from {{ tickets_relation }} where {{ where }}) as tickets
    semi join reexported using (city_code, ticket_id)

),

exported_once as (

    select
        tickets.*,
        1 as version_rank

    from (select {{ key_columns }} from {{ tickets_relation }} where {{ where }}) as tickets
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
{%- endmacro %}
