-- Per source: its landing files (file_reconciliation) added up, with the city of its work
-- orders. The operator's appendix lists these; file_reconciliation_city and
-- file_reconciliation_entity add them up further.
with files as (

    select * from {{ ref('file_reconciliation') }}

),

ticket_files as (

    select * from {{ ref('ticket_file_counts') }}

),

-- A tickets source names one city in its configuration; the warehouse knows it from the
-- source's rows in the lake. A test-call source, or a tickets source none of whose files could
-- be read, has none.
source_cities as (

    select source_id, min(city_code) as city_code
    from ticket_files
    group by source_id

),

summed as (

    select
        source_id,
        min(entity) as entity,
        count(*) as file_count,
        count(*) filter (where file_status is distinct from 'loaded') as failed_file_count,
        cast(coalesce(sum(rows_read), 0) as bigint) as rows_read,
        cast(coalesce(sum(rows_rejected), 0) as bigint) as rows_rejected,
        cast(coalesce(sum(footer_rows), 0) as bigint) as footer_rows,
        cast(coalesce(sum(rows_written), 0) as bigint) as rows_written,
        cast(coalesce(sum(rows_superseded), 0) as bigint) as rows_superseded,
        cast(coalesce(sum(rows_in_facts), 0) as bigint) as rows_in_facts,
        bool_and(is_balanced) as is_balanced

    from files
    group by source_id

)

select
    summed.source_id,
    summed.entity,
    source_cities.city_code,
    summed.file_count,
    summed.failed_file_count,
    summed.rows_read,
    summed.rows_rejected,
    summed.footer_rows,
    summed.rows_written,
    -- counted for work orders only (file_reconciliation)
    case when summed.entity = 'tickets' then summed.rows_superseded end as rows_superseded,
    case when summed.entity = 'tickets' then summed.rows_in_facts end as rows_in_facts,
    summed.is_balanced

from summed
left join source_cities on summed.source_id = source_cities.source_id
