with source as (

    {{ lake_source('rejects') }}

)

select
    source_id,
    source_file,
    file_sha256,
    source_sheet,
    source_row,
    reason as reject_reason,
    field as rejected_field,
    raw_value,
    ingested_at

from source
