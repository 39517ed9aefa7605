{#- Incremental by city. A model built from fct_tickets (or, for fct_tickets itself, from the
    lake) records on each row the `lake_files_fingerprint` of its city. `current` is SQL
    giving every city's (city_code, lake_files_fingerprint) as it is now; the cities whose
    pair is not in the model yet (new or changed cities) are rebuilt. Returns none on a full
    build (every city), else the list, which may be empty. -#}
{% macro cities_to_rebuild(current) -%}
    {%- if not (is_incremental() and execute) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set query -%}
        with current_cities as ({{ current }}),
        built as (select distinct city_code, lake_files_fingerprint from {{ this }})
        select city_code
        from current_cities anti join built using (city_code, lake_files_fingerprint)
        order by city_code
    {%- endset -%}
    {%- set cities = run_query(query).columns[0].values() | list -%}
    {%- do log(this.identifier ~ ': rebuilding ' ~ (cities | length)
               ~ (' city: ' if cities | length == 1 else ' cities: ')
               ~ (cities | join(', ')), info=true) -%}
    {{- return(cities) -}}
{%- endmacro %}


{#- The cities to rebuild in a model built from fct_tickets: those whose fingerprint there
    changed since the model's rows were written. -#}
{% macro cities_changed_in_fct_tickets() -%}
    {{- return(cities_to_rebuild(
        'select distinct city_code, lake_files_fingerprint from ' ~ ref('fct_tickets'))) -}}
{%- endmacro %}


{#- The SQL condition selecting `cities` (from cities_to_rebuild): every row when none. One
    city is an equality, which DuckDB carries through joins and windows down to the scans. -#}
{% macro city_condition(cities) -%}
    {%- if cities is none -%}
        true
    {%- elif not cities -%}
        false
    {%- elif cities | length == 1 -%}
        city_code = {{ string_literal(cities[0]) }}
    {%- else -%}
        city_code in (
            {%- for city in cities -%}
                {{ string_literal(city) }}{{ ', ' if not loop.last }}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
