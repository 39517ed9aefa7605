-- How many places each award had in a monitoring year and how many it filled: one row per
-- year, award and scope, the scope being the whole country (全国) or, for 先锋奖, each region
-- of the year's hotlines, whether it has a winner or not. An award fills fewer places than
-- var monitoring_awards gives when fewer hotlines qualify (is_short), and the report says so.
with hotlines as (

    select * from {{ ref('monitoring_hotline_year') }}

),

winners as (

    select * from {{ ref('monitoring_awards') }}

),

years as (

    select distinct year from hotlines

),

-- 先锋奖 is contested in each region of the year's hotlines; a hotline without a region
-- stands for none (monitoring_awards).
regions as (

    select distinct year, region from hotlines
    where region is not null

),

contested as (

    {%- for award in monitoring_award_list() %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    {%- if award.per_region %}
    select year, '{{ award.key }}' as award_key, region as award_scope from regions
    {%- else %}
    select year, '{{ award.key }}' as award_key, '全国' as award_scope from years
    {%- endif %}
    {%- endfor %}

),

filled as (

    select year, award_key, award_scope, count(*) as winner_count
    from winners
    group by year, award_key, award_scope

),

placed as (

    select
        contested.year,
        contested.award_key,
        contested.award_scope,
        {{ monitoring_award_attribute('contested.award_key', 'places') }} as places,
        coalesce(filled.winner_count, 0) as winner_count

    from contested
    left join filled
        on contested.year = filled.year
        and contested.award_key = filled.award_key
        and contested.award_scope = filled.award_scope

)

select
    cast(year as integer) as year,
    award_key,
    {{ monitoring_award_attribute('award_key', 'name') }} as award_name,
    cast({{ monitoring_award_attribute('award_key', 'order') }} as integer) as award_order,
    award_scope,
    cast(places as integer) as places,
    cast(winner_count as integer) as winner_count,
    winner_count < places as is_short

from placed
