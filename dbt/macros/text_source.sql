{#- The rows of a text source (a file the text stage writes in <data root>/text/), with the
    columns declared in _text__sources.yml. While the file is not there (dbt run by hand on a
    root never analysed, or on Spark, whose serving copy gets these views from DuckDB: see
    warehouse/serving.py), the model selects no rows of those columns. -#}
{% macro text_source(name) -%}
    {%- do source('text', name) -%}
    {%- set node = graph.sources['source.hotline.text.' ~ name] if execute else none -%}
    {%- set declared = node.columns.values() | list if execute else [] -%}
    {%- set exists = execute and target.type == 'duckdb' and run_query(
            "select count(*) from glob(" ~ string_literal(text_file(name)) ~ ")"
        ).columns[0].values()[0] > 0 -%}
    {%- if execute and not exists -%}
    select
        {%- for column in declared %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    where false
    {%- else -%}
    select * from {{ source('text', name) }}
    {%- endif -%}
{%- endmacro %}


{#- The file of a text source, from its external location. -#}
{% macro text_file(name) -%}
    {%- set node = graph.sources['source.hotline.text.' ~ name] -%}
    {%- set location = node.source_meta.get('external_location') | replace('{name}', name) -%}
    {{- return(modules.re.search("read_parquet\('([^']+)'", location).group(1)) -}}
{%- endmacro %}
