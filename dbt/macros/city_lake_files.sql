{#- One row per city: a fingerprint of the set of lake files that hold its work orders, each
    file by its landing file's SHA-256 and when it was ingested. A city's rows in fct_tickets
    carry the fingerprint they were built from; a city whose fingerprint in the lake differs
    has new, removed or re-ingested files (a lake made again from the same landing files under
    a changed mapping or key) and is rebuilt. `where` narrows the cities read. -#}
{% macro city_lake_files(tickets_relation, where='true') -%}
    select
        city_code,
        md5({{ sorted_string_agg('lake_file', "','") }}) as lake_files_fingerprint
    from (
        -- the files first, then their text: formatting a time per file, not per row
        select
            city_code,
            concat_ws('@', file_sha256, {{ timestamp_text('ingested_at') }}) as lake_file
        from (
            select distinct city_code, file_sha256, ingested_at
            from {{ tickets_relation }}
            where {{ where }}
        ) as files
    ) as lake_files
    group by city_code
{%- endmacro %}
