-- The national mix by channel and by request type per year of receipt: the cities' counts of
-- each value added up, each share over the tickets of the cities whose source gives the
-- dimension (a city that exports no channel adds nothing to either side), with that coverage.
with city_mix as (

    select * from {{ ref('ticket_mix_city_year') }}

),

-- ticket_mix_city_year repeats a city-year's known count on every value of a dimension
city_dimensions as (

    select
        year,
        dimension,
        city_code,
        any_value(city_ticket_count) as city_ticket_count,
        any_value(known_ticket_count) as known_ticket_count
    from city_mix
    group by year, dimension, city_code

),

coverage as (

    select
        year,
        dimension,
        count(*) as city_count,
        count(*) filter (where known_ticket_count > 0) as known_city_count,
        sum(city_ticket_count) as year_ticket_count,
        sum(known_ticket_count) as known_ticket_count
    from city_dimensions
    group by year, dimension

),

summed as (

    select
        year,
        dimension,
        dimension_value,
        sum(ticket_count) as ticket_count
    from city_mix
    group by year, dimension, dimension_value

)

select
    cast(summed.year as integer) as year,
    summed.dimension,
    summed.dimension_value,
    cast(summed.ticket_count as bigint) as ticket_count,
    cast(coverage.known_ticket_count as bigint) as known_ticket_count,
    {{ safe_rate('summed.ticket_count', 'coverage.known_ticket_count') }} as share,
    coverage.known_city_count,
    coverage.city_count,
    {{ safe_rate('coverage.known_ticket_count', 'coverage.year_ticket_count') }}
        as known_ticket_share

from summed
inner join coverage
    on summed.year = coverage.year
    and summed.dimension = coverage.dimension
