-- Category mix per city and year of receipt over the national classes: volume, share, rank,
-- change against the previous year and 热点诉求 (the top categories and the fastest risers;
-- thresholds in var hot_topics). Every class gets a row for every city-year with tickets, so
-- a class that vanished shows as 0 rather than as a missing row.
{#- Incremental by city, as fct_tickets is: a build rebuilds the cities whose
    lake_files_fingerprint in fct_tickets changed and drops the cities gone from it. -#}
{{ config(**incremental_by_city_config("ref('fct_tickets')")) }}
{%- set cities = cities_changed_in_fct_tickets() %}
{%- set hot = var('hot_topics') %}

with tickets as (

    select * from {{ ref('fct_tickets') }}
    where {{ city_condition(cities) }}

),

categories as (

    select * from {{ ref('dim_category') }}

),

counted as (

    select
        city_code,
        received_year as year,
        category_code,
        count(*) as ticket_count,
        any_value(lake_files_fingerprint) as lake_files_fingerprint
    from tickets
    group by city_code, received_year, category_code

),

city_years as (

    select
        city_code,
        year,
        cast(sum(ticket_count) as bigint) as city_ticket_count,
        any_value(lake_files_fingerprint) as lake_files_fingerprint
    from counted
    group by city_code, year

),

grid as (

    select
        city_years.city_code,
        city_years.year,
        city_years.city_ticket_count,
        city_years.lake_files_fingerprint,
        categories.category_code,
        categories.category_name,
        categories.is_unclassified,
        coalesce(counted.ticket_count, 0) as ticket_count

    from city_years
    cross join categories
    left join counted
        on city_years.city_code = counted.city_code
        and city_years.year = counted.year
        and categories.category_code = counted.category_code

),

compared as (

    select
        current_year.*,
        {{ safe_rate('current_year.ticket_count', 'current_year.city_ticket_count') }}
            as share_of_city,
        -- null when the city sent no tickets for the previous year at all
        prior_year.ticket_count as prior_year_ticket_count,
        {{ safe_rate('prior_year.ticket_count', 'prior_year.city_ticket_count') }}
            as prior_year_share_of_city

    from grid as current_year
    left join grid as prior_year
        on current_year.city_code = prior_year.city_code
        and current_year.year = prior_year.year + 1
        and current_year.category_code = prior_year.category_code

),

changed as (

    select
        *,
        ticket_count - prior_year_ticket_count as ticket_count_change,
        {{ safe_rate('ticket_count - prior_year_ticket_count', 'prior_year_ticket_count') }}
            as ticket_count_change_rate,
        share_of_city - prior_year_share_of_city as share_of_city_change,
        -- a riser grows, and faster than the city's whole volume (its share rises), from a
        -- base large enough for a growth rate to mean something (in a year just begun a
        -- share can rise while the count collapses)
        not is_unclassified
            and prior_year_ticket_count >= {{ hot['riser_min_prior_tickets'] }}
            and ticket_count > prior_year_ticket_count
            and share_of_city > prior_year_share_of_city
            as is_riser_candidate

    from compared

),

ranked as (

    select
        *,
        -- 未分类 is not a topic, and a class without tickets takes no rank: a city whose
        -- export says nothing of categories has no ranking of fifteen zeros
        case when not is_unclassified and ticket_count > 0 then row_number() over (
            partition by city_code, year, not is_unclassified and ticket_count > 0
            order by ticket_count desc, category_code
        ) end as rank_in_city,
        case when is_riser_candidate then row_number() over (
            partition by city_code, year, is_riser_candidate
            order by ticket_count_change_rate desc, ticket_count_change desc, category_code
        ) end as riser_rank

    from changed

)

select
    city_code,
    cast(year as integer) as year,
    category_code,
    category_name,
    ticket_count,
    city_ticket_count,
    share_of_city,
    cast(rank_in_city as bigint) as rank_in_city,
    prior_year_ticket_count,
    prior_year_share_of_city,
    ticket_count_change,
    ticket_count_change_rate,
    share_of_city_change,
    cast(riser_rank as bigint) as riser_rank,
    coalesce(rank_in_city <= {{ hot['top_n'] }} and ticket_count > 0, false) as is_top_category,
    coalesce(riser_rank <= {{ hot['riser_top_n'] }}, false) as is_fastest_riser,
    coalesce(
        (rank_in_city <= {{ hot['top_n'] }} and ticket_count > 0)
            or riser_rank <= {{ hot['riser_top_n'] }},
        false
    ) as is_hot_topic,

    -- lineage
    lake_files_fingerprint

from ranked
