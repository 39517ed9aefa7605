{#- A label without the padding exports add: ASCII spaces, tabs, no-break spaces (U+00A0) and
    ideographic spaces (U+3000); null when nothing is left. -#}
{% macro trim_label(expression) -%}
    nullif({{ trim_characters(expression, string_literal(' \t\u00a0\u3000')) }}, '')
{%- endmacro %}
