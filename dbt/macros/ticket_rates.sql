{#- The rates of ticket operations (HOTLINE.md, "Ticket operations"), each with the columns of
    kpi_city_year holding its numerator and its denominator. kpi_city_year computes them per
    city-year and kpi_national_year over cities; both read this one list. -#}
{% macro ticket_rates() -%}
    {{ return([
        {'name': 'direct_resolved_rate', 'numerator': 'direct_resolved_count',
         'denominator': 'direct_resolved_known_count'},
        {'name': 'response_rate', 'numerator': 'responded_within_sla_count',
         'denominator': 'response_measured_count'},
        {'name': 'on_time_close_rate', 'numerator': 'closed_on_time_count',
         'denominator': 'due_by_cutoff_count'},
        {'name': 'resolution_rate', 'numerator': 'resolved_count',
         'denominator': 'callback_count'},
        {'name': 'satisfaction_rate', 'numerator': 'satisfied_count',
         'denominator': 'rated_count'},
        {'name': 'repeat_request_rate', 'numerator': 'repeat_request_count',
         'denominator': 'known_caller_count'},
    ]) }}
{%- endmacro %}


{#- Beijing's 接诉即办 三率 composite: 100 × the weighted mean of 响应率, 解决率 and 满意率 (weights
    from var three_rate_weights); null when any of the three is: a missing rate must not count
    as zero. -#}
{% macro three_rate_score(response_rate, resolution_rate, satisfaction_rate) -%}
    {%- set weights = var('three_rate_weights') -%}
    100.0 * (
        {{ weights['response'] }} * {{ response_rate }}
        + {{ weights['resolution'] }} * {{ resolution_rate }}
        + {{ weights['satisfaction'] }} * {{ satisfaction_rate }}
    ) / ({{ weights['response'] }} + {{ weights['resolution'] }} + {{ weights['satisfaction'] }})
{%- endmacro %}
