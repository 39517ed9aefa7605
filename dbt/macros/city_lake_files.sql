{#- One row per city: a fingerprint of the set of lake files that hold its work orders. A
    city's rows in fct_tickets carry the fingerprint they were built from; a city whose
    fingerprint in the lake differs has new (or removed) files and is rebuilt. `where` narrows
    the cities read. -#}
{% macro city_lake_files(tickets_relation, where='true') -%}
    select
        city_code,
        md5(string_agg(file_sha256, ',' order by file_sha256)) as lake_files_fingerprint
    from (
        select distinct city_code, file_sha256
        from {{ tickets_relation }}
        where {{ where }}
    )
    group by city_code
{%- endmacro %}
