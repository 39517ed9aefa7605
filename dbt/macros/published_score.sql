{#- A score as the report publishes it: two decimals, rounded half away from zero from the
    score's six-decimal value (the marts keep six), as a DECIMAL so that differences of published
    scores are exact. dagster_project/report/formatting.py rounds every printed score by the
    same rule, so "较上年" and every other difference of two scores on a page is the difference
    of the two figures the page shows (80.52 − 75.77 = 4.75, not 4.76 from the unrounded
    scores). -#}
{% macro published_score(expression) -%}
    round(cast({{ expression }} as decimal(18, 6)), 2)
{%- endmacro %}


{#- The difference of two published scores, as a double like every score column; null when
    either side is null. -#}
{% macro published_difference(minuend, subtrahend) -%}
    cast({{ published_score(minuend) }} - {{ published_score(subtrahend) }} as double)
{%- endmacro %}
