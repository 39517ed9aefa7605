-- The city labels no mapping places (category_unmapped_labels) over all cities: how many
-- cities use each label and with how many tickets (all years), so that analysts map the
-- labels that matter most first. Tickets without a category make one row (source_label null).
with unmapped as (

    select * from {{ ref('category_unmapped_labels') }}

)

select
    source_label,
    count(*) as city_count,
    cast(sum(ticket_count) as bigint) as ticket_count,
    -- the first in order of the cities' examples, to show what the label covers
    min(example_category) as example_category

from unmapped
group by source_label
