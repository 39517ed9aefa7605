-- One row per work order: the latest version of every export, categorised, timed, flagged.
with tickets as (

    select * from {{ ref('int_tickets_repeats_flagged') }}

)

select
    -- ids
    city_code,
    ticket_id,

    -- request
    received_at,
    cast(received_at as date) as received_date,
    cast(year(received_at) as integer) as received_year,
    channel,
    request_type,
    category,
    category_top_level,
    category_level_2,
    category_level_3,
    category_code,
    category_name,
    category_mapping,
    district,
    title,
    content,
    caller_key,
    has_known_caller,

    -- handling
    is_direct_resolved,
    is_dispatched,
    dispatched_at,
    department,
    responded_at,
    due_at,
    is_due_at_derived,
    closed_at,
    status,
    resolved as is_resolved,
    satisfaction,

    -- impossible records
    is_closed_before_received,
    is_responded_before_dispatched,
    is_future_dated,
    is_impossible_record,

    -- durations
    hours_to_respond,
    hours_to_close,

    -- repeat requests
    is_repeat_request,
    previous_request_ticket_id,
    days_since_previous_request,

    -- lineage
    source_id,
    source_file,
    file_sha256,
    source_row,
    ingested_at

from tickets
