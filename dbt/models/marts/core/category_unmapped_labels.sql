-- The city labels that no mapping places in a national class: their tickets are in fct_tickets
-- under 未分类, and this list tells analysts which rows to add to seeds/category_mappings.csv.
with tickets as (

    select * from {{ ref('fct_tickets') }}

),

city_totals as (

    select city_code, count(*) as city_ticket_count
    from tickets
    group by city_code

),

unmapped as (

    select
        city_code,
        category_top_level as source_label,
        count(*) as ticket_count,
        min(received_at) as first_received_at,
        max(received_at) as last_received_at,
        -- one full category text, to show what the label covers
        min(category) as example_category

    from tickets
    where category_mapping = 'unmapped'
    group by city_code, category_top_level

)

select
    unmapped.city_code,
    unmapped.source_label,
    unmapped.ticket_count,
    {{ safe_rate('unmapped.ticket_count', 'city_totals.city_ticket_count') }}
        as share_of_city_tickets,
    unmapped.first_received_at,
    unmapped.last_received_at,
    unmapped.example_category

from unmapped
inner join city_totals on unmapped.city_code = city_totals.city_code
