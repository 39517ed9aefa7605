{#- A join condition: the two relations' rows are the same row of the lake, identified by its
    city, landing file, sheet and line (the city first, so that a filter on cities reaches
    both sides). -#}
{% macro same_lake_row(left, right) -%}
    {{ left }}.city_code = {{ right }}.city_code
    and {{ left }}.file_sha256 = {{ right }}.file_sha256
    and {{ left }}.source_sheet is not distinct from {{ right }}.source_sheet
    and {{ left }}.source_row = {{ right }}.source_row
{%- endmacro %}
