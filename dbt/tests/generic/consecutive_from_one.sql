{#- Fails with the groups of `group_by` whose values of the column are not exactly 1, 2, …, n:
    a ranking or a list of award places with a gap, a repeat or a wrong start. -#}
{% test consecutive_from_one(model, column_name, group_by) %}

select
    {{ group_by | join(', ') }},
    count(*) as row_count,
    count(distinct {{ column_name }}) as distinct_values,
    min({{ column_name }}) as lowest,
    max({{ column_name }}) as highest

from {{ model }}
group by {{ group_by | join(', ') }}
having min({{ column_name }}) <> 1
    or max({{ column_name }}) <> count(*)
    or count(distinct {{ column_name }}) <> count(*)
    or count({{ column_name }}) <> count(*)

{% endtest %}
