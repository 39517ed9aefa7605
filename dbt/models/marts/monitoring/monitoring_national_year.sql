-- The national summary per monitoring year: coverage, the national connect rate, mean scores,
-- change against the previous year, the spread of each indicator over the hotlines (median,
-- lowest, highest), how many hotlines fall in each line class and their share, how many rose
-- or fell against the previous year, and the mean 虚热 gap.
{%- set indicators = ['connect', 'time_to_human', 'etiquette', 'communication', 'resolution'] %}
{%- set line_classes = ['hot', 'warm', 'cold', 'dead'] %}

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
        count(*) filter (where line_class = '死线') as dead_line_count,
        -- compared with the calendar year before: total_score_change is the difference of
        -- the published totals, so a hotline printed at the same total neither rose nor fell
        count(*) filter (where previous_total_score is not null) as compared_hotline_count,
        count(*) filter (where total_score_change > 0) as improved_hotline_count,
        count(*) filter (where total_score_change < 0) as declined_hotline_count

    from hotlines
    group by year

),

-- The means as published (six decimals, as every score column).
means as (

    select
        year,
        hotline_count,
        call_count,
        connected_call_count,
        round(mean_total_score, 6) as mean_total_score,
        {%- for indicator in indicators %}
        round(mean_{{ indicator }}_score, 6) as mean_{{ indicator }}_score,
        {%- endfor %}
        {%- for indicator in indicators %}
        round(median_{{ indicator }}_score, 6) as median_{{ indicator }}_score,
        round(min_{{ indicator }}_score, 6) as min_{{ indicator }}_score,
        round(max_{{ indicator }}_score, 6) as max_{{ indicator }}_score,
        {%- endfor %}
        hot_line_count,
        warm_line_count,
        cold_line_count,
        dead_line_count,
        compared_hotline_count,
        improved_hotline_count,
        declined_hotline_count

    from yearly

)

-- Changes and the 虚热 gap are differences of the published (two-decimal) means, so that each
-- equals the difference of the two figures the report prints (macro published_score).
select
    current.year,
    current.hotline_count,
    current.call_count,
    current.connected_call_count,
    {{ safe_rate('current.connected_call_count', 'current.call_count') }} as connect_rate,
    current.mean_total_score,
    {%- for indicator in indicators %}
    current.mean_{{ indicator }}_score,
    {%- endfor %}
    {{ published_difference('current.mean_total_score', 'previous.mean_total_score') }}
        as mean_total_score_change,
    {%- for indicator in indicators %}
    {{ published_difference('current.mean_' ~ indicator ~ '_score',
                            'previous.mean_' ~ indicator ~ '_score') }}
        as mean_{{ indicator }}_score_change,
    {%- endfor %}
    {%- for indicator in indicators %}
    current.median_{{ indicator }}_score,
    current.min_{{ indicator }}_score,
    current.max_{{ indicator }}_score,
    {%- endfor %}
    current.hot_line_count,
    current.warm_line_count,
    current.cold_line_count,
    current.dead_line_count,
    {%- for line_class in line_classes %}
    {{ safe_rate('current.' ~ line_class ~ '_line_count', 'current.hotline_count') }}
        as {{ line_class }}_line_share,
    {%- endfor %}
    current.compared_hotline_count,
    -- Whether a hotline rose or fell is unknown (null), not 0, when none was monitored the
    -- year before.
    case when current.compared_hotline_count > 0 then current.improved_hotline_count end
        as improved_hotline_count,
    case when current.compared_hotline_count > 0 then current.declined_hotline_count end
        as declined_hotline_count,
    current.hotline_count - current.compared_hotline_count as new_hotline_count,
    {{ published_difference('current.mean_connect_score', 'current.mean_resolution_score') }}
        as mean_hollow_heat_gap

from means as current
left join means as previous on previous.year = current.year - 1
