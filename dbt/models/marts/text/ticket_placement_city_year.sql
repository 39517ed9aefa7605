-- Per city and year: how many work orders a mapping placed in the national taxonomy, how
-- many the text classifier placed, and how many stay 未分类. The shares are of all tickets.
{{ config(materialized='view') }}

with classes as (

    select * from {{ ref('fct_ticket_classes') }}

),

counted as (

    select
        city_code,
        received_year,
        count(*) as tickets,
        count(*) filter (where category_placement = 'mapping') as placed_by_mapping,
        count(*) filter (where category_placement = 'model') as placed_by_model,
        count(*) filter (where category_placement = 'none') as not_placed

    from classes
    group by city_code, received_year

)

select
    city_code,
    received_year,
    tickets,
    placed_by_mapping,
    placed_by_model,
    not_placed,
    cast(placed_by_mapping as double) / tickets as placed_by_mapping_share,
    cast(placed_by_model as double) / tickets as placed_by_model_share,
    cast(not_placed as double) / tickets as not_placed_share

from counted
