{#- The awards of var monitoring_awards in the order the report lists them: each award's key,
    name, order and places (per region for 先锋奖, in the whole country for the others).
    monitoring_awards and monitoring_award_places take names, order and places from here. -#}
{% macro monitoring_award_list() %}
    {%- set awards = var('monitoring_awards') -%}
    {{ return([
        {'key': 'top_ten', 'order': 1, 'per_region': false,
         'name': awards['top_ten']['name'], 'places': awards['top_ten']['count']},
        {'key': 'regional_pioneer', 'order': 2, 'per_region': true,
         'name': awards['regional_pioneer']['name'],
         'places': awards['regional_pioneer']['count_per_region']},
        {'key': 'fastest_riser', 'order': 3, 'per_region': false,
         'name': awards['fastest_riser']['name'], 'places': awards['fastest_riser']['count']},
        {'key': 'service_star', 'order': 4, 'per_region': false,
         'name': awards['service_star']['name'], 'places': awards['service_star']['count']},
    ]) }}
{% endmacro %}


{#- `case <award key column> when 'top_ten' then <its attribute> ... end`: an award's name
    (quoted), order or places by its key. -#}
{% macro monitoring_award_attribute(key_column, attribute) -%}
    case {{ key_column }}
        {%- for award in monitoring_award_list() %}
        when '{{ award.key }}' then
            {%- if attribute == 'name' %} {{ string_literal(award.name) }}
            {%- else %} {{ award[attribute] }}
            {%- endif %}
        {%- endfor %}
    end
{%- endmacro %}
