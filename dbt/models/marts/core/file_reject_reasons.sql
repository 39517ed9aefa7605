-- Why ingestion rejected rows, per landing file: the operator's appendix of the report lists
-- these, so the layout or the export can be fixed. The raw values stay in the lake's rejects
-- (masked there); this table holds the reason, the field and the lines only.
select
    source_id,
    source_file,
    file_sha256,
    reject_reason,
    rejected_field,
    -- A workbook's sheets number their rows each from the top: a row is its sheet and line.
    count(distinct (coalesce(source_sheet, ''), source_row)) as rejected_row_count,
    min(source_row) as first_source_row

from {{ ref('stg_lake__rejects') }}
group by source_id, source_file, file_sha256, reject_reason, rejected_field
