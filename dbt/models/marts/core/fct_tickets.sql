with tickets as (

    select * from {{ ref('int_tickets_deduplicated') }}

),

derived as (

    select
        city_code,
        ticket_id,
        received_at,
        cast(year(received_at) as integer) as received_year,
        channel,
        request_type,
        category,
        nullif(trim(split_part(category, '/', 1)), '') as category_top_level,
        district,
        title,
        content,
        caller_key,
        coalesce(direct_resolved, false) as is_direct_resolved,
        dispatched_at,
        department,
        responded_at,
        coalesce(due_at, received_at + to_days({{ due_days('request_type') }})) as due_at,
        due_at is null as is_due_at_derived,
        closed_at,
        status,
        resolved as is_resolved,
        satisfaction,
        -- Impossible records stay, flagged, and are left out of duration statistics.
        coalesce(closed_at < received_at, false) as is_closed_before_received,
        source_id,
        source_file,
        file_sha256,
        source_row

    from tickets

)

select
    *,
    case when responded_at >= dispatched_at
        then date_diff('second', dispatched_at, responded_at) / 3600.0
    end as hours_to_respond,
    case when not is_closed_before_received
        then date_diff('second', received_at, closed_at) / 3600.0
    end as hours_to_close

from derived
