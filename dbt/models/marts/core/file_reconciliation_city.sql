-- Per city: the landing files of its work-order sources (file_reconciliation_source) added up,
-- over all years. A city without a tickets source has no row; a source with no city (test
-- calls, or a tickets source none of whose files could be read) counts for no city.
with sources as (

    select * from {{ ref('file_reconciliation_source') }}

)

select
    city_code,
    {{ summed_file_counts() }},
    cast(sum(rows_superseded) as bigint) as rows_superseded,
    cast(sum(rows_in_facts) as bigint) as rows_in_facts

from sources
where city_code is not null
group by city_code
