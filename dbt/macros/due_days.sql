{#- Days allowed to close a ticket of each request type, from the var due_days_by_request_type. -#}
{% macro due_days(request_type_column) -%}
    case {{ request_type_column }}
    {%- for request_type, days in var('due_days_by_request_type').items() %}
        when '{{ request_type }}' then {{ days }}
    {%- endfor %}
    end
{%- endmacro %}
