-- A view, not a table: the files are appended after every build, and the view reads them all.
with source as (

    {{ lake_source('quality_results') }}

)

select
    run_id,
    checked_at,
    suite,
    asset,
    severity,
    expectation,
    column_name,
    {{ adapter.quote("partition") }} as checked_partition,
    success,
    unexpected_count,
    unexpected_examples,
    observed_value,
    rows_validated

from source
