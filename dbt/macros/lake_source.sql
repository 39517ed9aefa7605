{#- The rows of a lake source for its staging model, with every column declared for the source
    in _lake__sources.yml, of the declared type.

    A data root need not hold every entity: tickets arrive before the evaluator's test calls, a
    new root holds nothing yet. While no file matches a source's location, the model selects no
    rows of the declared columns, so everything downstream builds and says what is not there
    instead of failing on a glob that matches nothing. Files written before a column was added
    to the lake lack it: a declared column that no file holds yet is null, so a lake need not be
    ingested again when the canonical fields grow. -#}
{% macro lake_source(name) -%}
    {#- The model depends on the source on every engine, whichever way it reads the files. -#}
    {%- do source('lake', name) -%}
    {%- set declared = graph.sources['source.hotline.lake.' ~ name].columns.values() | list
        if execute else [] -%}
    {%- if execute and not lake_files_exist(name) -%}
    {{ no_rows_of(declared) }}
    {%- else -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- set described = run_query("describe select * from " ~ lake_relation(name)) -%}
        {%- set present = described.columns[0].values() | map('lower') | list -%}
    {%- endif %}
    select
        *
        {%- for column in declared if column.name | lower not in present %},
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
        {%- endfor %}
    from {{ lake_relation(name) }}
    {%- endif -%}
{%- endmacro %}


{#- A relation of no rows with the declared columns (name, data_type), of their types. -#}
{% macro no_rows_of(columns) -%}
    select
        {%- for column in columns %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    where false
{%- endmacro %}
