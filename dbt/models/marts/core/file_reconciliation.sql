-- Per landing file: rows read = rows written + rows rejected (ingestion), and of the rows
-- written, how many a later version of the same ticket superseded and how many are in the facts.
with manifest as (

    select * from {{ ref('stg_lake__manifest') }}

),

written as (

    select file_sha256, source_id, count(*) as rows_in_lake
    from {{ ref('stg_lake__tickets') }}
    group by file_sha256, source_id

),

kept as (

    select file_sha256, source_id, count(*) as rows_in_facts
    from {{ ref('fct_tickets') }}
    group by file_sha256, source_id

)

select
    manifest.source_id,
    manifest.entity,
    manifest.source_file,
    manifest.file_sha256,
    manifest.file_status,
    manifest.rows_read,
    manifest.rows_rejected,
    manifest.footer_rows,
    manifest.rows_written,
    case when manifest.entity = 'tickets'
        then coalesce(written.rows_in_lake, 0) - coalesce(kept.rows_in_facts, 0)
    end as rows_superseded,
    case when manifest.entity = 'tickets' then coalesce(kept.rows_in_facts, 0) end
        as rows_in_facts,
    manifest.missing_columns,
    manifest.error_message,
    manifest.ingested_at

from manifest
left join written
    on manifest.file_sha256 = written.file_sha256
    and manifest.source_id = written.source_id
left join kept
    on manifest.file_sha256 = kept.file_sha256
    and manifest.source_id = kept.source_id
