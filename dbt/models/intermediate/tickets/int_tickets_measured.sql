-- Due time, durations and flags for impossible records. Impossible records are kept (they
-- still count in volumes and rates) but get no duration, so they cannot distort the medians.
with tickets as (

    select * from {{ ref('int_tickets_categorised') }}

),

timed as (

    select
        * replace (
            -- exported due times run from the dispatch; a ticket never dispatched from receipt
            coalesce(
                tickets.due_at,
                coalesce(dispatched_at, received_at)
                    + to_days({{ due_days('request_type') }})
            ) as due_at
        ),
        tickets.due_at is null as is_due_at_derived,
        -- null when the source does not say: unknown is neither a direct resolution nor not one
        direct_resolved as is_direct_resolved,
        dispatched_at is not null and not coalesce(direct_resolved, false) as is_dispatched,
        coalesce(closed_at < received_at, false) as is_closed_before_received,
        coalesce(responded_at < dispatched_at, false) as is_responded_before_dispatched,
        -- event times are Beijing time, ingested_at is UTC: nothing can happen after the export
        -- reached us, i.e. after ingested_at + 8 h on the exports' clock
        coalesce(
            greatest(received_at, dispatched_at, responded_at, closed_at)
                > ingested_at + to_hours(8),
            false
        ) as is_future_dated

    from tickets

)

select
    * exclude (direct_resolved),
    is_closed_before_received or is_responded_before_dispatched or is_future_dated
        as is_impossible_record,
    case when is_dispatched and not is_responded_before_dispatched and not is_future_dated
        then date_diff('second', dispatched_at, responded_at) / 3600.0
    end as hours_to_respond,
    case when not is_closed_before_received and not is_future_dated
        then date_diff('second', received_at, closed_at) / 3600.0
    end as hours_to_close

from timed
