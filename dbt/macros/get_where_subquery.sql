{#- When the dbt invocation running now started (UTC), as SQL: the `built_at` of the rows a
    model incremental by city writes in it. -#}
{% macro build_started_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}


{#- The relation a data test reads (dbt's own macro, overridden as dbt documents): the test's
    `where` config as dbt applies it, and, for a model with meta `tests_read_rows_built_now`
    rebuilt in this invocation, only the rows it wrote now (built_at). The other cities' rows
    were tested by the build that wrote them, with the same code and reference data: a build
    of other code or reference data starts from an empty warehouse, where every row is new.
    A test run without its model (`dbt test`) reads every row. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append(config.get('where')) -%}
    {%- endif -%}
    {#- At parse time (not execute) the graph is still empty. -#}
    {%- set tested = model.get('attached_node') if execute else none -%}
    {%- if tested in selected_resources -%}
        {%- set tested_config = (graph.nodes.get(tested) or {}).get('config', {}) -%}
        {%- if tested_config.get('meta', {}).get('tests_read_rows_built_now') -%}
            {%- do conditions.append('built_at = ' ~ build_started_at()) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if not conditions -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where ({{ conditions | join(') and (') }})) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}
