-- The awards of the monitoring results, one row per award winner and year. Rules and counts are
-- the vars monitoring_awards and monitoring_award_ineligible_line_classes in dbt_project.yml;
-- the report prints the same values, so what it states is what this model selects.
{%- set awards = var('monitoring_awards') %}
{%- set top_ten = awards['top_ten'] %}
{%- set pioneer = awards['regional_pioneer'] %}
{%- set riser = awards['fastest_riser'] %}
{%- set star = awards['service_star'] %}
{%- set ineligible = var('monitoring_award_ineligible_line_classes') %}
{%- set prior_ineligible = riser.get('prior_year_ineligible_line_classes') %}
{%- set line_classes = ['热线', '温线', '冷线', '死线'] %}

{#- A misspelt line class or a rule missing from a data root's own vars would change the winners
    without any error: refuse to build. -#}
{%- for key, value in [
        ('regional_pioneer.eligible_line_classes', pioneer.get('eligible_line_classes')),
        ('fastest_riser.prior_year_ineligible_line_classes', prior_ineligible),
        ('monitoring_award_ineligible_line_classes', ineligible)]
    if value is string or value is not iterable or (value | reject('in', line_classes) | list) %}
    {{ exceptions.raise_compiler_error(
        key ~ " must be a list of line classes among " ~ (line_classes | join(', '))
        ~ ", not " ~ value) }}
{%- endfor %}
{%- if pioneer.get('at_or_above_national_mean') not in [true, false] %}
    {{ exceptions.raise_compiler_error(
        "regional_pioneer.at_or_above_national_mean must be true or false, not "
        ~ pioneer.get('at_or_above_national_mean')) }}
{%- endif %}

{%- for key, count in [
        ('top_ten', top_ten['count']), ('regional_pioneer', pioneer['count_per_region']),
        ('fastest_riser', riser['count']), ('service_star', star['count'])]
    if not (count is integer and count >= 0) %}
    {{ exceptions.raise_compiler_error(
        "the count of award " ~ key ~ " must be a whole number >= 0, not " ~ count) }}
{%- endfor %}

with hotlines as (

    select * from {{ ref('monitoring_hotline_year') }}

),

-- 全国十佳 is the ranking itself; the line-class exclusion below does not apply to it.
-- The national mean is that of monitoring_national_year (all hotlines of the year); 先锋奖
-- compares published figures, so that a winner's printed score is never below the printed
-- mean and a hotline printed at the mean is not left out.
eligible as (

    select
        *,
        national_rank <= {{ top_ten['count'] }} as is_top_ten,
        not ({{ in_values('line_class', ineligible) }}) as is_award_eligible,
        {{ published_score('total_score') }}
            >= {{ published_score('round(avg(total_score) over (partition by year), 6)') }}
            as is_at_or_above_national_mean

    from hotlines

),

top_ten as (

    select
        year,
        'top_ten' as award_key,
        '全国' as award_scope,
        national_rank as award_place,
        city_code,
        total_score as award_measure

    from eligible
    where is_top_ten

),

-- National rank is unique within a year, so the best of a region needs no further tie rule.
-- A region without a qualifying hotline gets no winner: no lower-ranked stand-in.
regional_pioneer as (

    select
        year,
        'regional_pioneer' as award_key,
        region as award_scope,
        row_number() over (partition by year, region order by national_rank) as award_place,
        city_code,
        total_score as award_measure

    from eligible
    where not is_top_ten
        and is_award_eligible
        and {{ in_values('line_class', pioneer['eligible_line_classes']) }}
        {%- if pioneer['at_or_above_national_mean'] %}
        and is_at_or_above_national_mean
        {%- endif %}
        -- a hotline without a region cannot stand for one
        and region is not null

),

-- total_score_change is null when the hotline was not monitored the year before, so the
-- filter also keeps newcomers out; a fall in score is no gain. The gain is the difference of
-- the published scores, the figure the report prints. A hotline whose previous year's class
-- is excluded (a 死线's 0 was never a measured performance) gains on nothing.
fastest_riser as (

    select
        year,
        'fastest_riser' as award_key,
        '全国' as award_scope,
        row_number() over (
            partition by year order by total_score_change desc, national_rank
        ) as award_place,
        city_code,
        total_score_change as award_measure

    from eligible
    where total_score_change > 0
        and is_award_eligible
        {%- if prior_ineligible %}
        and not ({{ in_values('previous_line_class', prior_ineligible) }})
        {%- endif %}
        {%- if not riser['top_ten_eligible'] %}
        and not is_top_ten
        {%- endif %}

),

service_star as (

    select
        year,
        'service_star' as award_key,
        '全国' as award_scope,
        row_number() over (
            partition by year order by service_score desc, national_rank
        ) as award_place,
        city_code,
        service_score as award_measure

    from eligible
    where is_award_eligible

),

winners as (

    select * from top_ten
    union all
    select * from regional_pioneer
    where award_place <= {{ pioneer['count_per_region'] }}
    union all
    select * from fastest_riser
    where award_place <= {{ riser['count'] }}
    union all
    select * from service_star
    where award_place <= {{ star['count'] }}

)

-- Names and the report's order of the awards: macro monitoring_award_list.
select
    winners.year,
    winners.award_key,
    {{ monitoring_award_attribute('winners.award_key', 'name') }} as award_name,
    cast({{ monitoring_award_attribute('winners.award_key', 'order') }} as integer)
        as award_order,
    winners.award_scope,
    cast(winners.award_place as integer) as award_place,
    winners.city_code,
    hotlines.hotline_name,
    hotlines.region,
    hotlines.national_rank,
    hotlines.line_class,
    hotlines.total_score,
    hotlines.total_score_change,
    hotlines.service_score,
    winners.award_measure

from winners
inner join hotlines
    on winners.year = hotlines.year
    and winners.city_code = hotlines.city_code
