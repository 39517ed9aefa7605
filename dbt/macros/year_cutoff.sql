{#- The moment the statistics of a year are taken: 1 January of the next year plus the var. -#}
{% macro year_cutoff(year_column) -%}
    (make_timestamp({{ year_column }} + 1, 1, 1, 0, 0, 0)
        + {{ days_interval(var('cutoff_days_after_year_end')) }})
{%- endmacro %}
