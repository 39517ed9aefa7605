-- Per entity (work orders, test calls): the landing files of its sources
-- (file_reconciliation_source) added up, over all years.
with sources as (

    select * from {{ ref('file_reconciliation_source') }}

)

select
    entity,
    count(*) as source_count,
    cast(sum(file_count) as bigint) as file_count,
    cast(sum(failed_file_count) as bigint) as failed_file_count,
    cast(sum(rows_read) as bigint) as rows_read,
    cast(sum(rows_rejected) as bigint) as rows_rejected,
    cast(sum(footer_rows) as bigint) as footer_rows,
    cast(sum(rows_written) as bigint) as rows_written,
    -- counted for work orders only (file_reconciliation)
    case when entity = 'tickets' then cast(sum(rows_superseded) as bigint) end
        as rows_superseded,
    case when entity = 'tickets' then cast(sum(rows_in_facts) as bigint) end as rows_in_facts,
    bool_and(is_balanced) as is_balanced

from sources
group by entity
