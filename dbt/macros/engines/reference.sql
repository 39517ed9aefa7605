{#- How each engine finds and reads a data root's reference files (macro data_root_reference). -#}

{#- Whether the reference file `file_name` at `path` exists. -#}
{% macro reference_file_exists(file_name, path) -%}
    {{- return(adapter.dispatch('reference_file_exists')(file_name, path)) -}}
{%- endmacro %}

{% macro default__reference_file_exists(file_name, path) -%}
    {%- set found = run_query("select count(*) from glob(" ~ string_literal(path) ~ ")") -%}
    {{- return(found.columns[0].values()[0] > 0) -}}
{%- endmacro %}

{#- Spark SQL cannot list files: the pipeline passes the var `reference_files`, the data root's
    reference files (it lists them before the build). dbt run by hand on Spark must pass it too,
    or a deployment's own reference rows would be left out without a word. -#}
{% macro spark__reference_file_exists(file_name, path) -%}
    {%- set present = var('reference_files', none) -%}
    {%- if present is none -%}
        {{ exceptions.raise_compiler_error(
            "on Spark, dbt needs the var reference_files: the file names in the data root's"
            ~ " reference/ folder, e.g. --vars '{reference_files: []}'; `hotline build` passes"
            ~ " it (docs/scale-out.md)") }}
    {%- endif -%}
    {{- return(file_name in present) -}}
{%- endmacro %}


{#- The rows of the CSV file at `path`, with the header line naming the columns, each value as
    text (empty is null), as a relation with exactly `columns`. -#}
{% macro csv_relation(path, columns) -%}
    {{- return(adapter.dispatch('csv_relation')(path, columns)) -}}
{%- endmacro %}

{% macro default__csv_relation(path, columns) -%}
    {{- return('(select ' ~ (columns | join(', ')) ~ ' from read_csv(' ~ string_literal(path)
               ~ ', header = true, all_varchar = true))') -}}
{%- endmacro %}

{#- Spark SQL reads a CSV file without its options, so its header line is read as a row: the
    columns are matched to the header's names here, and that row is left out. -#}
{% macro spark__csv_relation(path, columns) -%}
    {%- set file = 'csv.`' ~ path ~ '`' -%}
    {%- set first = run_query('select * from ' ~ file ~ ' limit 1') -%}
    {%- set header = [] -%}
    {%- for value in first.rows[0] -%}
        {%- do header.append((value or '') | replace('\ufeff', '') | trim) -%}
    {%- endfor -%}
    {%- set missing = columns | reject('in', header) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            path ~ ": its header line lacks " ~ (missing | join(', '))
            ~ "; it needs the columns " ~ (columns | join(', '))) }}
    {%- endif -%}
    {%- set selected = [] -%}
    {%- for column in columns -%}
        {%- do selected.append('_c' ~ header.index(column) ~ ' as ' ~ column) -%}
    {%- endfor -%}
    {%- set header_row = [] -%}
    {%- for value in first.rows[0] -%}
        {%- do header_row.append('_c' ~ loop.index0 ~ ' <=> ' ~ string_literal(value)) -%}
    {%- endfor -%}
    {{- return('(select ' ~ (selected | join(', ')) ~ ' from ' ~ file
               ~ ' where not (' ~ (header_row | join(' and ')) ~ '))') -}}
{%- endmacro %}
