-- Per landing file: rows read = rows written + rows rejected (ingestion), and of the ticket rows
-- written, how many a later version of the same ticket superseded (deduplicated away) and how
-- many are in fct_tickets (ticket_file_counts). The lake's own counts sit beside the
-- manifest's, so a file whose rows went missing on the way shows up as unbalanced.
with manifest as (

    select * from {{ ref('stg_lake__manifest') }}

),

ticket_counts as (

    select
        file_sha256,
        source_id,
        cast(sum(rows_in_lake) as bigint) as rows_in_lake,
        cast(sum(rows_superseded) as bigint) as rows_superseded,
        cast(sum(rows_in_facts) as bigint) as rows_in_facts
    from {{ ref('ticket_file_counts') }}
    group by file_sha256, source_id

),

rejects as (

    select * from {{ ref('stg_lake__rejects') }}

),

rejected as (

    -- A workbook's sheets number their rows each from the top: a row is its sheet and line.
    select
        file_sha256,
        source_id,
        -- a row is its sheet and line; '#' cannot be part of a line number
        count(distinct coalesce(source_sheet, '') || '#' || coalesce(cast(source_row as string), ''))
            as rows_rejected_in_lake
    from rejects
    group by file_sha256, source_id

),

joined as (

    select
        manifest.*,
        manifest.entity = 'tickets' as is_tickets,
        coalesce(ticket_counts.rows_in_lake, 0) as rows_in_lake,
        coalesce(ticket_counts.rows_superseded, 0) as rows_superseded,
        coalesce(ticket_counts.rows_in_facts, 0) as rows_in_facts,
        coalesce(rejected.rows_rejected_in_lake, 0) as rows_rejected_in_lake

    from manifest
    left join ticket_counts
        on manifest.file_sha256 = ticket_counts.file_sha256
        and manifest.source_id = ticket_counts.source_id
    left join rejected
        on manifest.file_sha256 = rejected.file_sha256
        and manifest.source_id = rejected.source_id

)

select
    source_id,
    entity,
    source_file,
    file_sha256,
    file_status,
    rows_read,
    rows_rejected,
    footer_rows,
    rows_written,
    case when is_tickets then rows_superseded end as rows_superseded,
    case when is_tickets then rows_in_facts end as rows_in_facts,
    case when is_tickets then rows_in_lake end as rows_in_lake,
    rows_rejected_in_lake,
    -- read = written + rejected; for tickets also written = in lake = superseded + in facts
    coalesce(rows_read, 0) = coalesce(rows_written, 0) + coalesce(rows_rejected, 0)
        and coalesce(rows_rejected, 0) = rows_rejected_in_lake
        and (
            not is_tickets
            or (
                coalesce(rows_written, 0) = rows_in_lake
                and rows_in_lake = rows_superseded + rows_in_facts
            )
        ) as is_balanced,
    missing_columns,
    unexpected_columns,
    error_message,
    ingested_at

from joined
