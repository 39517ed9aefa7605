{#- How each engine reads the lake's Parquet files. A lake source's external_location (in
    _lake__sources.yml) is DuckDB's `read_parquet('<glob>', <options>)`, which dbt-duckdb puts
    in place of the source; Spark reads the same glob as `parquet.`<glob>``. -#}

{#- A lake source's external location, as dbt-duckdb reads it: the table's own or else the
    source's, with {name} the table's name. -#}
{% macro lake_location(name) -%}
    {%- set node = graph.sources['source.hotline.lake.' ~ name] -%}
    {%- set location = node.meta.get('external_location')
                       or node.source_meta.get('external_location') -%}
    {{- return(location | replace('{name}', node.name)) -}}
{%- endmacro %}


{#- The glob of a lake source, from its external location. -#}
{% macro lake_glob(name) -%}
    {%- set found = modules.re.search("read_parquet\('([^']+)'", lake_location(name)) -%}
    {%- if not found -%}
        {{ exceptions.raise_compiler_error(
            "lake source " ~ name ~ " is not read with read_parquet('<glob>', ...)") }}
    {%- endif -%}
    {{- return(found.group(1)) -}}
{%- endmacro %}


{#- The rows of a lake source's files, as a relation to select from. With the option
    `filename = true`, a column `filename` names the file of each row (on Spark, as a URI). -#}
{% macro lake_relation(name) -%}
    {{- return(adapter.dispatch('lake_relation')(name)) -}}
{%- endmacro %}

{% macro default__lake_relation(name) -%}
    {{- return(source('lake', name)) -}}
{%- endmacro %}

{#- Hadoop's globs have no `**`: it stands for one or two folders, as deep as the lake goes
    (source=<id>/ and its superseded/). Files lacking a column another file has (written before
    the column was added) read as null in it: spark.sql.parquet.mergeSchema in the profile. -#}
{% macro spark__lake_relation(name) -%}
    {#- While dbt parses, the graph is not there yet, and the SQL is not run. -#}
    {%- if not execute -%}
        {{- return(source('lake', name)) -}}
    {%- endif -%}
    {%- set glob = lake_glob(name) | replace('/**/', '/{*,*/*}/') -%}
    {%- set with_filename = 'filename = true' in lake_location(name) -%}
    {{- return('(select *' ~ (', _metadata.file_path as filename' if with_filename else '')
               ~ ' from parquet.`' ~ glob ~ '`)') -}}
{%- endmacro %}


{#- Whether any file matches a lake source's glob. -#}
{% macro lake_files_exist(name) -%}
    {{- return(adapter.dispatch('lake_files_exist')(name)) -}}
{%- endmacro %}

{% macro default__lake_files_exist(name) -%}
    {%- set matches = run_query("select count(*) from glob("
                                ~ string_literal(lake_glob(name)) ~ ")") -%}
    {{- return(matches.columns[0].values()[0] > 0) -}}
{%- endmacro %}

{#- Spark SQL cannot list files, and reading a glob that matches nothing fails. The pipeline
    passes the var `lake_tables_with_files`, the lake tables that hold files (it lists them
    before the build); without it (dbt by hand) every table is taken to hold some. -#}
{% macro spark__lake_files_exist(name) -%}
    {%- set with_files = var('lake_tables_with_files', none) -%}
    {{- return(with_files is none or name in with_files) -}}
{%- endmacro %}
