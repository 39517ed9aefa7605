{#- `column in ('a', 'b')` for a list of strings from the vars; false for an empty list (SQL has
    no empty IN list). -#}
{% macro in_values(column, values) -%}
    {%- if values -%}
    {{ column }} in (
        {%- for value in values -%}
        {{ string_literal(value) }}{% if not loop.last %}, {% endif %}
        {%- endfor -%}
    )
    {%- else -%}
    false
    {%- endif -%}
{%- endmacro %}
