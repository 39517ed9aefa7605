-- Per city and ticket lake file: its rows in the lake, those a later version of the same ticket
-- superseded, and those in fct_tickets (file_reconciliation adds them up per file). A file's
-- counts depend on the other files of its city, so they are kept per city and recounted only
-- for the cities whose lake files changed: incremental by city, as fct_tickets is.
{{ config(**incremental_by_city_config("ref('fct_tickets')")) }}
{%- set cities = cities_changed_in_fct_tickets() %}

-- Counted from the lake itself, not from the versions: file_reconciliation's balance then
-- also proves that deduplicating lost no row. Every row of a superseded file (one that later
-- files of its source exported again whole) is superseded; the current files' re-exported
-- versions are ranked among themselves, with the cities' filter inside (macro
-- reexported_versions): a version newer than a superseded file's row is in a current file.
with written as (

    select
        city_code,
        source_id,
        file_sha256,
        is_in_superseded_file,
        count(*) as rows_in_lake
    from {{ ref('stg_lake__ticket_versions') }}
    where {{ city_condition(cities) }}
    group by city_code, source_id, file_sha256, is_in_superseded_file

),

superseded as (

    select city_code, source_id, file_sha256, count(*) as rows_superseded
    from (
        {{ reexported_versions(ref('stg_lake__tickets'), where=city_condition(cities)) }}
    ) as versions
    where version_rank > 1
    group by city_code, source_id, file_sha256

),

kept as (

    select
        city_code,
        source_id,
        file_sha256,
        count(*) as rows_in_facts,
        any_value(lake_files_fingerprint) as lake_files_fingerprint
    from {{ ref('fct_tickets') }}
    where {{ city_condition(cities) }}
    group by city_code, source_id, file_sha256

),

-- Every city with a lake row has its latest versions in fct_tickets, so a fingerprint; a
-- file superseded whole has no row in `kept` and takes its city's.
fingerprints as (

    select city_code, any_value(lake_files_fingerprint) as lake_files_fingerprint
    from kept
    group by city_code

)

select
    written.city_code,
    written.source_id,
    written.file_sha256,
    written.rows_in_lake,
    case
        when written.is_in_superseded_file then written.rows_in_lake
        else coalesce(superseded.rows_superseded, 0)
    end as rows_superseded,
    coalesce(kept.rows_in_facts, 0) as rows_in_facts,

    -- lineage
    fingerprints.lake_files_fingerprint

from written
left join superseded
    on written.city_code = superseded.city_code
    and written.source_id = superseded.source_id
    and written.file_sha256 = superseded.file_sha256
left join kept
    on written.city_code = kept.city_code
    and written.source_id = kept.source_id
    and written.file_sha256 = kept.file_sha256
inner join fingerprints on written.city_code = fingerprints.city_code
