{#- The vars of dbt_project.yml that are rules of the results (every one of them): the mart
    build_rules records their values as this build used them. tests/test_build_rules.py keeps
    the list equal to dbt_project.yml's vars. -#}
{% macro rule_names() %}
    {{ return([
        'response_sla_hours', 'cutoff_days_after_year_end', 'due_days_by_request_type',
        'repeat_window_days', 'three_rate_weights', 'hot_topics', 'monitoring_weights',
        'time_to_human_full_score_seconds', 'time_to_human_zero_score_seconds',
        'line_class_thresholds', 'hollow_heat', 'monitoring_awards',
        'monitoring_award_ineligible_line_classes',
    ]) }}
{% endmacro %}
