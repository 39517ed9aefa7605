with source as (

    {{ lake_source('manifest') }}

)

select
    source_id,
    entity,
    source_file,
    file_sha256,
    file_bytes,
    status as file_status,
    rows_read,
    rows_written,
    rows_rejected,
    footer_rows,
    missing_columns,
    unexpected_columns,
    error as error_message,
    -- the canonical fields the file gives, comma-joined (null: ingested before this was kept)
    exported_fields,
    key_fingerprint,
    ingested_at

from source
