-- Each award names no more winners than var monitoring_awards allows, and the top ten is
-- never short while the year has enough hotlines: the rule printed in the report holds.
{%- set awards = var('monitoring_awards') %}

with awards as (

    select * from {{ ref('monitoring_awards') }}

),

hotlines as (

    select * from {{ ref('monitoring_hotline_year') }}

),

winners as (

    select year, award_key, award_scope, count(*) as winner_count
    from awards
    group by year, award_key, award_scope

),

allowed as (

    select
        *,
        case award_key
            when 'top_ten' then {{ awards['top_ten']['count'] }}
            when 'regional_pioneer' then {{ awards['regional_pioneer']['count_per_region'] }}
            when 'fastest_riser' then {{ awards['fastest_riser']['count'] }}
            when 'service_star' then {{ awards['service_star']['count'] }}
        end as allowed_count

    from winners

),

too_many as (

    select year, award_key, award_scope, winner_count, allowed_count
    from allowed
    where winner_count > allowed_count

),

top_ten_short as (

    select
        hotlines.year,
        'top_ten' as award_key,
        '全国' as award_scope,
        coalesce(winners.winner_count, 0) as winner_count,
        least(count(*), {{ awards['top_ten']['count'] }}) as allowed_count

    from hotlines
    left join winners
        on winners.year = hotlines.year
        and winners.award_key = 'top_ten'
    group by hotlines.year, winners.winner_count
    having coalesce(winners.winner_count, 0) <> least(count(*), {{ awards['top_ten']['count'] }})

)

select * from too_many
union all
select * from top_ten_short
