-- The national category mix and 热点诉求 per year of receipt: the cities' counts of each class
-- added up, with the rules of var hot_topics applied to the sums (the top_n largest classes;
-- the riser_top_n fastest risers among classes whose national share rose from at least
-- riser_min_prior_tickets tickets). The change against the previous year compares like with
-- like: only cities that sent tickets in both years count in the growth and the share change.
{%- set hot = var('hot_topics') %}

with city_categories as (

    select * from {{ ref('category_city_year') }}

),

categories as (

    select * from {{ ref('dim_category') }}

),

summed as (

    select
        city_categories.year,
        city_categories.category_code,
        any_value(categories.category_name) as category_name,
        coalesce(any_value(categories.is_unclassified), false) as is_unclassified,
        count(distinct city_categories.city_code) as city_count,
        sum(city_categories.ticket_count) as ticket_count,
        coalesce(sum(city_categories.ticket_count) filter (
            where city_categories.prior_year_ticket_count is not null
        ), 0) as comparable_ticket_count,
        coalesce(sum(city_categories.prior_year_ticket_count), 0) as prior_year_ticket_count,
        count(*) filter (where city_categories.is_top_category) as top_city_count

    from city_categories
    left join categories using (category_code)
    group by city_categories.year, city_categories.category_code

),

totals as (

    select
        *,
        sum(ticket_count) over (partition by year) as year_ticket_count,
        sum(comparable_ticket_count) over (partition by year) as comparable_year_ticket_count,
        sum(prior_year_ticket_count) over (partition by year) as prior_year_year_ticket_count

    from summed

),

changed as (

    select
        *,
        {{ safe_rate('ticket_count', 'year_ticket_count') }} as share,
        {{ safe_rate('comparable_ticket_count - prior_year_ticket_count',
                     'prior_year_ticket_count') }} as ticket_count_change_rate,
        case when comparable_year_ticket_count > 0 and prior_year_year_ticket_count > 0 then
            {{ safe_rate('comparable_ticket_count', 'comparable_year_ticket_count') }}
            - {{ safe_rate('prior_year_ticket_count', 'prior_year_year_ticket_count') }}
        end as share_change

    from totals

),

candidates as (

    select
        *,
        not is_unclassified and ticket_count > 0 as is_ranked,
        not is_unclassified and ticket_count > 0
            and prior_year_ticket_count >= {{ hot['riser_min_prior_tickets'] }}
            and ticket_count_change_rate > 0
            and share_change > 0
            as is_riser_candidate

    from changed

),

ranked as (

    select
        *,
        -- 未分类 is not a topic, and a class without tickets takes no rank
        case when is_ranked then row_number() over (
            partition by year, is_ranked
            order by ticket_count desc, category_code
        ) end as national_rank,
        case when is_riser_candidate then row_number() over (
            partition by year, is_riser_candidate
            order by ticket_count_change_rate desc,
                comparable_ticket_count - prior_year_ticket_count desc, category_code
        ) end as riser_rank

    from candidates

)

select
    cast(year as integer) as year,
    category_code,
    category_name,
    is_unclassified,
    city_count,
    cast(ticket_count as bigint) as ticket_count,
    cast(year_ticket_count as bigint) as year_ticket_count,
    share,
    cast(national_rank as bigint) as national_rank,
    cast(comparable_ticket_count as bigint) as comparable_ticket_count,
    cast(prior_year_ticket_count as bigint) as prior_year_ticket_count,
    ticket_count_change_rate,
    share_change,
    top_city_count,
    cast(riser_rank as bigint) as riser_rank,
    coalesce(national_rank <= {{ hot['top_n'] }}, false) as is_top_category,
    coalesce(riser_rank <= {{ hot['riser_top_n'] }}, false) as is_fastest_riser

from ranked
