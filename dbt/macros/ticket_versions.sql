{#- The lake columns that identify a version of a work order and order the versions. -#}
{% macro version_keys(tickets_relation, where='true') -%}
    select
        city_code,
        ticket_id,
        source_id,
        source_file,
        file_sha256,
        source_sheet,
        source_row,
        ingested_at
    from {{ tickets_relation }}
    where {{ where }}
{%- endmacro %}

{#- The work orders `tickets_relation` holds more than once: city and ticket id. -#}
{% macro reexported_ids(tickets_relation, where='true') -%}
        select city_code, ticket_id
        from {{ tickets_relation }}
        where {{ where }}
        group by city_code, ticket_id
        having count(*) > 1
{%- endmacro %}

{#- Every version of the work orders `tickets_relation` (the lake's tickets) holds more than
    once, ranked newest first (version_rank 1 is the one that counts): the latest ingestion
    wins, then the latest file name, then the last row. `where` narrows the rows read.
    Re-exports are a few percent of the rows, so the window runs over those rows and their
    keys alone. The ids are joined with an inner join, not a semi join: DuckDB carries a filter
    on cities from outside (fct_tickets' incremental builds) across the one and not the other,
    and without it a city's rebuild ranked every city's ids. -#}
{% macro reexported_versions(tickets_relation, where='true') -%}
    select
        tickets.*,
        row_number() over (
            partition by tickets.city_code, tickets.ticket_id
            order by ingested_at desc, source_file desc, source_sheet desc, source_row desc
        ) as version_rank

    from ({{ version_keys(tickets_relation, where) }}) as tickets
    inner join (
        {{ reexported_ids(tickets_relation, where) }}
    ) as reexported
        on tickets.city_code = reexported.city_code
        and tickets.ticket_id = reexported.ticket_id
{%- endmacro %}

{#- The versions of every work order (int_ticket_versions_ranked): those exported more than
    once ranked by `reexported_versions`, the rest with rank 1. -#}
{% macro ticket_versions(tickets_relation, where='true') -%}
with ranked as (

    {{ reexported_versions(tickets_relation, where) }}

),

exported_once as (

    select
        tickets.*,
        1 as version_rank

    from ({{ version_keys(tickets_relation, where) }}) as tickets
    anti join (
        {{ reexported_ids(tickets_relation, where) }}
    ) as reexported
        using (city_code, ticket_id)

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
