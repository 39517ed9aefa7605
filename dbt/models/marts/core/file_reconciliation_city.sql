-- Per city: the landing files of its work-order sources (file_reconciliation_source) added up,
-- over all years. A city without a tickets source has no row; a source with no city (test
-- calls, or a tickets source none of whose files could be read) counts for no city.
with sources as (

    select * from {{ ref('file_reconciliation_source') }}

)

select
    city_code,
    count(*) as source_count,
    cast(sum(file_count) as bigint) as file_count,
    cast(sum(failed_file_count) as bigint) as failed_file_count,
    cast(sum(rows_read) as bigint) as rows_read,
    cast(sum(rows_rejected) as bigint) as rows_rejected,
    cast(sum(footer_rows) as bigint) as footer_rows,
    cast(sum(rows_written) as bigint) as rows_written,
    cast(sum(rows_superseded) as bigint) as rows_superseded,
    cast(sum(rows_in_facts) as bigint) as rows_in_facts,
    bool_and(is_balanced) as is_balanced

from sources
where city_code is not null
group by city_code
