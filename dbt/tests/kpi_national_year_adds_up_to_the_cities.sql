-- The national year holds what its cities hold: the same tickets, closes and withdrawals. The
-- durations are taken over fct_tickets and the rest over kpi_city_year, so a filter that
-- drifted apart in one of the two models shows here.
with national as (

    select * from {{ ref('kpi_national_year') }}

),

cities as (

    select
        year,
        count(*) as city_count,
        sum(ticket_count) as ticket_count,
        sum(closed_count) as closed_count,
        sum(withdrawn_count) as withdrawn_count
    from {{ ref('kpi_city_year') }}
    group by year

)

select national.year
from national
full join cities using (year)
where national.year is null
    or cities.year is null
    or national.city_count <> cities.city_count
    or national.ticket_count <> cities.ticket_count
    or national.closed_count <> cities.closed_count
    or national.withdrawn_count <> cities.withdrawn_count
