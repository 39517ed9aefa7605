-- The national summary per monitoring year: coverage, mean scores, change against the
-- previous year, the spread of each indicator over the hotlines (median, lowest, highest), and
-- how many hotlines fall in each line class.
{%- set indicators = ['connect', 'time_to_human', 'etiquette', 'communication', 'resolution'] %}

with hotlines as (

    select * from {{ ref('monitoring_hotline_year') }}

),

yearly as (

    select
        year,
        count(*) as hotline_count,
        cast(sum(call_count) as bigint) as call_count,
        cast(sum(connected_call_count) as bigint) as connected_call_count,
        avg(total_score) as mean_total_score,
        avg(connect_score) as mean_connect_score,
        avg(time_to_human_score) as mean_time_to_human_score,
        avg(etiquette_score) as mean_etiquette_score,
        avg(communication_score) as mean_communication_score,
        avg(resolution_score) as mean_resolution_score,
        {%- for indicator in indicators %}
        median({{ indicator }}_score) as median_{{ indicator }}_score,
        min({{ indicator }}_score) as min_{{ indicator }}_score,
        max({{ indicator }}_score) as max_{{ indicator }}_score,
        {%- endfor %}
        count(*) filter (where line_class = '热线') as hot_line_count,
        count(*) filter (where line_class = '温线') as warm_line_count,
        count(*) filter (where line_class = '冷线') as cold_line_count,
        count(*) filter (where line_class = '死线') as dead_line_count

    from hotlines
    group by year

)

select
    current.year,
    current.hotline_count,
    current.call_count,
    current.connected_call_count,
    round(current.mean_total_score, 6) as mean_total_score,
    round(current.mean_connect_score, 6) as mean_connect_score,
    round(current.mean_time_to_human_score, 6) as mean_time_to_human_score,
    round(current.mean_etiquette_score, 6) as mean_etiquette_score,
    round(current.mean_communication_score, 6) as mean_communication_score,
    round(current.mean_resolution_score, 6) as mean_resolution_score,
    round(current.mean_total_score - previous.mean_total_score, 6) as mean_total_score_change,
    round(current.mean_connect_score - previous.mean_connect_score, 6)
        as mean_connect_score_change,
    round(current.mean_time_to_human_score - previous.mean_time_to_human_score, 6)
        as mean_time_to_human_score_change,
    round(current.mean_etiquette_score - previous.mean_etiquette_score, 6)
        as mean_etiquette_score_change,
    round(current.mean_communication_score - previous.mean_communication_score, 6)
        as mean_communication_score_change,
    round(current.mean_resolution_score - previous.mean_resolution_score, 6)
        as mean_resolution_score_change,
    {%- for indicator in indicators %}
    round(current.median_{{ indicator }}_score, 6) as median_{{ indicator }}_score,
    round(current.min_{{ indicator }}_score, 6) as min_{{ indicator }}_score,
    round(current.max_{{ indicator }}_score, 6) as max_{{ indicator }}_score,
    {%- endfor %}
    current.hot_line_count,
    current.warm_line_count,
    current.cold_line_count,
    current.dead_line_count

from yearly as current
left join yearly as previous on previous.year = current.year - 1
