-- National ticket operations per year of receipt: every rate of kpi_city_year over all
-- cities, computed from the cities' numerators and denominators, only over the cities where
-- the rate is known (its denominator counted something), with that coverage beside it: how
-- many of the year's cities, and what share of the year's tickets. Per 10,000 residents counts
-- only cities with a population, on both sides of the ratio. Medians and percentiles do not
-- add up over cities: they are taken over the year's tickets themselves.
{%- set rates = ticket_rates() %}

with cities as (

    select * from {{ ref('kpi_city_year') }}

),

tickets as (

    select * from {{ ref('fct_tickets') }}

),

summed as (

    select
        year,
        count(*) as city_count,
        cast(sum(ticket_count) as bigint) as ticket_count,
        count(population) as population_city_count,
        cast(coalesce(sum(ticket_count) filter (where population is not null), 0) as bigint)
            as population_ticket_count,
        cast(sum(population) as bigint) as population,
        {%- for rate in rates %}
        count(*) filter (where {{ rate.denominator }} > 0) as {{ rate.name }}_city_count,
        cast(coalesce(sum(ticket_count) filter (where {{ rate.denominator }} > 0), 0) as bigint)
            as {{ rate.name }}_ticket_count,
        cast(sum({{ rate.numerator }}) as bigint) as {{ rate.numerator }},
        cast(sum({{ rate.denominator }}) as bigint) as {{ rate.denominator }},
        {%- endfor %}
        count(open_backlog_count) as open_backlog_city_count,
        cast(sum(open_backlog_count) as bigint) as open_backlog_count,
        cast(sum(withdrawn_count) as bigint) as withdrawn_count

    from cities
    group by year

),

durations as (

    select
        received_year as year,
        count(*) filter (
            where closed_at <= {{ year_cutoff('received_year') }} and hours_to_close is not null
        ) as closed_count,
        median(hours_to_close) filter (
            where closed_at <= {{ year_cutoff('received_year') }}
        ) as median_hours_to_close,
        {{ percentile_cont('hours_to_close', 0.9) }} filter (
            where closed_at <= {{ year_cutoff('received_year') }}
        ) as p90_hours_to_close

    from tickets
    group by received_year

),

rated as (

    select
        summed.*,
        durations.closed_count,
        durations.median_hours_to_close,
        durations.p90_hours_to_close,
        {{ safe_rate('population_ticket_count * 10000', 'population') }}
            as tickets_per_10k_residents,
        {%- for rate in rates %}
        {{ safe_rate(rate.numerator, rate.denominator) }} as {{ rate.name }},
        {{ safe_rate(rate.name ~ '_ticket_count', 'ticket_count') }}
            as {{ rate.name }}_ticket_share
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from summed
    left join durations using (year)

)

select
    cast(year as integer) as year,
    city_count,
    ticket_count,
    population_city_count,
    population_ticket_count,
    population,
    tickets_per_10k_residents,
    {%- for rate in rates %}
    {{ rate.numerator }},
    {{ rate.denominator }},
    {{ rate.name }},
    {{ rate.name }}_city_count,
    {{ rate.name }}_ticket_share,
    {%- endfor %}
    {{ three_rate_score('response_rate', 'resolution_rate', 'satisfaction_rate') }}
        as three_rate_score,
    closed_count,
    median_hours_to_close,
    p90_hours_to_close,
    open_backlog_city_count,
    open_backlog_count,
    withdrawn_count

from rated
