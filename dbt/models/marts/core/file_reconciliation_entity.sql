-- Per entity (work orders, test calls): the landing files of its sources
-- (file_reconciliation_source) added up, over all years.
with sources as (

    select * from {{ ref('file_reconciliation_source') }}

)

select
    entity,
    {{ summed_file_counts() }},
    -- counted for work orders only (file_reconciliation)
    case when entity = 'tickets' then cast(sum(rows_superseded) as bigint) end
        as rows_superseded,
    case when entity = 'tickets' then cast(sum(rows_in_facts) as bigint) end as rows_in_facts

from sources
group by entity
