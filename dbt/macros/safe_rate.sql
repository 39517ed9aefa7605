{#- A ratio that is null, not zero or an error, when nothing was counted in the denominator. -#}
{% macro safe_rate(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif({{ denominator }}, 0))
{%- endmacro %}
