{#- The rows of a text source (a file the text stage writes in <data root>/text/), with the
    columns declared in _text__sources.yml, in their order. While the file is not there (dbt
    run by hand on a root never analysed, or on Spark, whose serving copy gets these views from
    DuckDB: see warehouse/serving.py), the model selects no rows of those columns. A file an
    older analysis wrote may lack a column declared since: it reads as null until the next
    analysis writes the file anew.

    The file is read by its path, not through source(): the text stage runs after the build
    and reads the build's marts, so in Dagster's graph it is downstream of the warehouse, and
    a dependency of these views on it would close a loop through the one dbt step. -#}
{% macro text_source(name) -%}
    {%- set node = graph.sources['source.hotline.text.' ~ name] if execute else none -%}
    {%- set declared = node.columns.values() | list if execute else [] -%}
    {%- set exists = execute and target.type == 'duckdb' and run_query(
            "select count(*) from glob(" ~ string_literal(text_file(name)) ~ ")"
        ).columns[0].values()[0] > 0 -%}
    {%- if execute and not exists -%}
    {{ no_rows_of(declared) }}
    {%- elif execute -%}
    {%- set relation = "read_parquet(" ~ string_literal(text_file(name)) ~ ")" -%}
    {%- set described = run_query("describe select * from " ~ relation) -%}
    {%- set present = described.columns[0].values() | map('lower') | list -%}
    select
        {%- for column in declared %}
        {% if column.name | lower in present -%}
        {{ adapter.quote(column.name) }}
        {%- else -%}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
        {%- endif %}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ relation }}
    {%- else -%}
    {#- While dbt parses: the SQL is not run. -#}
    select 1 as parsed
    {%- endif -%}
{%- endmacro %}


{#- The file of a text source, from its external location. -#}
{% macro text_file(name) -%}
    {%- set node = graph.sources['source.hotline.text.' ~ name] -%}
    {%- set location = node.source_meta.get('external_location') | replace('{name}', name) -%}
    {{- return(modules.re.search("read_parquet\('([^']+)'", location).group(1)) -}}
{%- endmacro %}
