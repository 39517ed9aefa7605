{#- Fails with the rows where `expression` is false (a null result passes, as for a nullable
    column). With aggregate=true the expression is evaluated once over the whole model, e.g.
    "count(*) filter (where flag) = 1", and a false or null result fails. -#}
{% test expression_is_true(model, expression, aggregate=false) %}

{% if aggregate %}
select *
from (select {{ expression }} as passed from {{ model }}) as checked
where not coalesce(passed, false)
{% else %}
select *
from {{ model }}
where not ({{ expression }})
{% endif %}

{% endtest %}
