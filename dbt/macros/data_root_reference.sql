{#- A deployment's own reference file <HOTLINE_DATA_ROOT>/reference/<file_name> (a CSV file with
    a header line), as a relation to select `columns` from, every value as text, when the file
    exists at run time; none otherwise (and while dbt only parses). The staging models of the
    reference data add its rows to the bundled seed's. -#}
{% macro data_root_reference(file_name, columns) -%}
    {%- set path = env_var('HOTLINE_DATA_ROOT') ~ '/reference/' ~ file_name -%}
    {%- if not (execute and reference_file_exists(file_name, path)) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(csv_relation(path, columns)) }}
{%- endmacro %}
