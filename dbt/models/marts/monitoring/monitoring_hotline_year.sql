-- The monitoring index per hotline and year, from the evaluator's test calls (HOTLINE.md,
-- "Indicators"). Weights and thresholds are vars in dbt_project.yml.
{%- set weights = var('monitoring_weights') %}
{%- set full_s = var('time_to_human_full_score_seconds') %}
{%- set zero_s = var('time_to_human_zero_score_seconds') %}
{%- set classes = var('line_class_thresholds') %}
{%- set hollow = var('hollow_heat') %}

{#- A bad configuration would publish a wrong ranking without any error: refuse to build. -#}
{%- set indicators = ['connect', 'time_to_human', 'etiquette', 'communication', 'resolution'] %}
{%- if weights.keys() | list | sort != indicators | sort %}
    {{ exceptions.raise_compiler_error(
        "var monitoring_weights must have exactly the keys " ~ (indicators | join(', '))) }}
{%- endif %}
{%- for key in indicators if weights[key] < 0 %}
    {{ exceptions.raise_compiler_error("var monitoring_weights." ~ key ~ " is negative") }}
{%- endfor %}
{%- if ((weights.values() | sum) - 1) | abs > 0.000001 %}
    {{ exceptions.raise_compiler_error(
        "var monitoring_weights must sum to 1 (the total is a 0-100 score), not "
        ~ (weights.values() | sum)) }}
{%- endif %}
{%- if zero_s <= full_s %}
    {{ exceptions.raise_compiler_error(
        "time_to_human_zero_score_seconds must exceed time_to_human_full_score_seconds") }}
{%- endif %}
{%- if not (0 < classes['warm_min_connect_rate'] < classes['hot_min_connect_rate'] <= 1) %}
    {{ exceptions.raise_compiler_error(
        "line_class_thresholds need 0 < warm_min_connect_rate < hot_min_connect_rate <= 1") }}
{%- endif %}
{%- if not (hollow['listed'] is integer and hollow['listed'] >= 0) %}
    {{ exceptions.raise_compiler_error(
        "hollow_heat.listed must be a whole number >= 0, not " ~ hollow['listed']) }}
{%- endif %}
{#- A gap of 0 or less is not 虚热, and a hotline nobody answered has no 问题解决 to compare. -#}
{%- if not (hollow['min_gap'] is number and hollow['min_gap'] > 0) %}
    {{ exceptions.raise_compiler_error(
        "hollow_heat.min_gap must be a number of points above 0, not " ~ hollow['min_gap']) }}
{%- endif %}
{%- if not (hollow['min_connected_calls'] is integer and hollow['min_connected_calls'] >= 1) %}
    {{ exceptions.raise_compiler_error(
        "hollow_heat.min_connected_calls must be a whole number >= 1, not "
        ~ hollow['min_connected_calls']) }}
{%- endif %}

with calls as (

    select * from {{ ref('fct_test_calls') }}

),

cities as (

    select * from {{ ref('dim_city') }}

),

-- fct_test_calls nulls seconds and scores of unanswered calls, so the means below run over
-- connected calls only, as the indicator definitions require.
per_hotline as (

    select
        evaluation_year as year,
        city_code,
        count(*) as call_count,
        count(*) filter (where is_connected) as connected_call_count,
        count(distinct source_file) as call_file_count,
        avg(seconds_to_human) as mean_seconds_to_human,
        avg(etiquette_score) as mean_etiquette,
        avg(communication_score) as mean_communication,
        avg(resolution_score) as mean_resolution

    from calls
    group by evaluation_year, city_code

),

-- A hotline with no connected call scores 0 on the four call-quality indicators.
-- Scores are rounded to 6 decimals so that equal scores compare equal in the tie rule and in
-- the award rules, whatever order the floating-point sums ran in.
scored as (

    select
        year,
        city_code,
        call_count,
        connected_call_count,
        call_file_count,
        cast(connected_call_count as double) / call_count as connect_rate,
        mean_seconds_to_human,
        round(100 * cast(connected_call_count as double) / call_count, 6) as connect_score,
        round(case
            when mean_seconds_to_human is null then 0
            else greatest(0, least(100,
                100.0 * ({{ zero_s }} - mean_seconds_to_human) / ({{ zero_s }} - {{ full_s }})))
        end, 6) as time_to_human_score,
        round(coalesce(mean_etiquette, 0), 6) as etiquette_score,
        round(coalesce(mean_communication, 0), 6) as communication_score,
        round(coalesce(mean_resolution, 0), 6) as resolution_score

    from per_hotline

),

totalled as (

    select
        *,
        round(
            {{ weights['connect'] }} * connect_score
            + {{ weights['time_to_human'] }} * time_to_human_score
            + {{ weights['etiquette'] }} * etiquette_score
            + {{ weights['communication'] }} * communication_score
            + {{ weights['resolution'] }} * resolution_score,
            6
        ) as total_score,
        -- The measure of 服务之星奖, kept here so analysts see it beside the other scores.
        round((etiquette_score + communication_score) / 2, 6) as service_score

    from scored

),

-- row_number, not rank: the tie rule ends on the city code, so every rank is distinct.
ranked as (

    select
        *,
        cast(row_number() over (
            partition by year
            order by total_score desc, connect_score desc, resolution_score desc, city_code
        ) as integer) as national_rank,
        case
            when connect_rate >= {{ classes['hot_min_connect_rate'] }} then '热线'
            when connect_rate >= {{ classes['warm_min_connect_rate'] }} then '温线'
            when connect_rate > 0 then '冷线'
            else '死线'
        end as line_class

    from totalled

),

-- Changes and the 虚热 gap are differences of the published (two-decimal) scores, so that
-- each equals the difference of the two figures the report prints (macro published_score).
compared as (

    select
        ranked.year,
        ranked.city_code,
        cities.hotline_name,
        cities.region,
        ranked.call_count,
        ranked.connected_call_count,
        ranked.call_file_count,
        ranked.connect_rate,
        ranked.mean_seconds_to_human,
        ranked.connect_score,
        ranked.time_to_human_score,
        ranked.etiquette_score,
        ranked.communication_score,
        ranked.resolution_score,
        ranked.total_score,
        ranked.national_rank,
        ranked.line_class,
        {{ published_difference('ranked.total_score', 'previous.total_score') }}
            as total_score_change,
        previous.national_rank - ranked.national_rank as rank_change,
        {{ published_difference('ranked.connect_score', 'ranked.resolution_score') }}
            as hollow_heat_gap,
        ranked.service_score,
        previous.total_score as previous_total_score,
        previous.national_rank as previous_national_rank,
        previous.line_class as previous_line_class

    from ranked
    left join cities on ranked.city_code = cities.city_code
    -- Only the calendar year before counts: a hotline skipped that year has no change (null),
    -- not a change against an older year.
    left join ranked as previous
        on previous.city_code = ranked.city_code
        and previous.year = ranked.year - 1

),

-- The 虚热 list of the year (var hollow_heat): a gap of at least min_gap points, on at least
-- min_connected_calls answered calls; equal gaps in national-rank order.
hollow_heat_candidates as (

    select
        year,
        city_code,
        row_number() over (
            partition by year order by hollow_heat_gap desc, national_rank
        ) as hollow_heat_place

    from compared
    where hollow_heat_gap >= {{ hollow['min_gap'] }}
        and connected_call_count >= {{ hollow['min_connected_calls'] }}

)

select
    compared.*,
    cast(hollow_heat_candidates.hollow_heat_place as integer) as hollow_heat_place

from compared
left join hollow_heat_candidates
    on compared.year = hollow_heat_candidates.year
    and compared.city_code = hollow_heat_candidates.city_code
    and hollow_heat_candidates.hollow_heat_place <= {{ hollow['listed'] }}
