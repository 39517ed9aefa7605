-- One row: what the warehouse's landing files and category labels add up to, over all sources
-- and years. The public report's summary of data coverage says how many files could not be
-- read or lack columns, whether every row is accounted for, and how many tickets sit under
-- labels no mapping places.
with files as (

    select * from {{ ref('file_reconciliation') }}

),

labels as (

    select * from {{ ref('category_unmapped_label_totals') }}

),

file_totals as (

    select
        count(*) as file_count,
        count(*) filter (where file_status is distinct from 'loaded') as failed_file_count,
        -- loaded, but without some configured columns: their fields are unknown, not zero
        count(*) filter (
            where file_status = 'loaded' and coalesce(missing_columns, '') <> ''
        ) as partial_file_count,
        count(*) filter (where not is_balanced) as unbalanced_file_count

    from files

),

label_totals as (

    select
        count(*) as unmapped_label_count,
        cast(coalesce(sum(ticket_count), 0) as bigint) as unmapped_ticket_count

    from labels

)

select
    file_totals.file_count,
    file_totals.failed_file_count,
    file_totals.partial_file_count,
    file_totals.unbalanced_file_count,
    label_totals.unmapped_label_count,
    label_totals.unmapped_ticket_count

from file_totals
cross join label_totals
