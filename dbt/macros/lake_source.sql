{#- The rows of a lake source for its staging model. A data root need not hold every entity:
    tickets arrive before the evaluator's test calls, a new root holds nothing yet. While no
    file matches a source's location, the model selects no rows with the columns and types
    declared for the source in _lake__sources.yml, so everything downstream builds and says
    what is not there, instead of failing on a glob that matches nothing. -#}
{% macro lake_source(name) -%}
    {%- set relation = source('lake', name) -%}
    {%- if execute and not lake_files_exist(relation) -%}
    select
        {%- for column in graph.sources['source.hotline.lake.' ~ name].columns.values() %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    where false
    {%- else -%}
    select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- Whether the glob of a lake source's external location matches any file. -#}
{% macro lake_files_exist(relation) -%}
    {%- set found = modules.re.search("read_parquet\('([^']+)'", relation | string) -%}
    {%- if not found -%}
        {{ exceptions.raise_compiler_error(
            "lake source " ~ relation ~ " is not read with read_parquet('<glob>', ...)") }}
    {%- endif -%}
    {%- set matches = run_query("select count(*) from glob('" ~ found.group(1) ~ "')") -%}
    {{ return(matches.columns[0].values()[0] > 0) }}
{%- endmacro %}
