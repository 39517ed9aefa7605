{#- A label without the padding exports add: ASCII spaces, tabs, no-break spaces (U+00A0) and
    ideographic spaces (U+3000); null when nothing is left. -#}
{% macro trim_label(expression) -%}
    nullif(trim({{ expression }}, ' ' || chr(9) || chr(160) || chr(12288)), '')
{%- endmacro %}
