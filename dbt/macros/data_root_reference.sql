{#- A deployment's own reference file <HOTLINE_DATA_ROOT>/reference/<file_name>, as a quoted SQL
    literal, when the file exists at run time; none otherwise (and while dbt only parses). The
    staging models of the reference data add its rows to the bundled seed's. -#}
{% macro data_root_reference(file_name) -%}
    {%- set path = env_var('HOTLINE_DATA_ROOT') ~ '/reference/' ~ file_name -%}
    {%- set literal = "'" ~ path | replace("'", "''") ~ "'" -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from glob(" ~ literal ~ ")") -%}
    {{ return(literal if found.columns[0].values()[0] > 0 else none) }}
{%- endmacro %}
