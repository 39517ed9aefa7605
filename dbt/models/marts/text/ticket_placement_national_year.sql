-- Per year, nationally: work orders placed in the national taxonomy by mapping, by the text
-- classifier and not at all, over the cities with tickets that year (the coverage).
{{ config(materialized='view') }}

with cities as (

    select * from {{ ref('ticket_placement_city_year') }}

)

select
    received_year,
    count(*) as cities_with_tickets,
    cast(sum(tickets) as bigint) as tickets,
    cast(sum(placed_by_mapping) as bigint) as placed_by_mapping,
    cast(sum(placed_by_model) as bigint) as placed_by_model,
    cast(sum(not_placed) as bigint) as not_placed,
    cast(sum(placed_by_mapping) as double) / sum(tickets) as placed_by_mapping_share,
    cast(sum(placed_by_model) as double) / sum(tickets) as placed_by_model_share,
    cast(sum(not_placed) as double) / sum(tickets) as not_placed_share

from cities
group by received_year
