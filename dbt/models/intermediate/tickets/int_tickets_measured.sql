-- Due time, durations and flags for impossible records. Impossible records are kept (they
-- still count in volumes and rates) but get no duration, so they cannot distort the medians.
-- Whether a ticket's response and close are measured at all: a time its file does not export
-- is unknown, not "never happened" (the manifest lists the fields each file gives).
with tickets as (

    select * from {{ ref('int_tickets_categorised') }}

),

manifest as (

    select * from {{ ref('stg_lake__manifest') }}

),

-- Files recorded before the manifest listed their fields give everything, as they were read.
file_exports as (

    select
        file_sha256,
        bool_or(
            exported_fields is null
            or ',' || exported_fields || ',' like '%,responded_at,%'
        ) as exports_responded_at,
        bool_or(
            exported_fields is null
            or ',' || exported_fields || ',' like '%,closed_at,%'
        ) as exports_closed_at

    from manifest
    where file_status = 'loaded'
    group by file_sha256

),

timed as (

    select
        {{ star_except('tickets', ['due_at', 'status']) }},
        -- exported due times run from the dispatch; a ticket never dispatched from receipt
        coalesce(
            tickets.due_at,
            coalesce(dispatched_at, received_at) + {{ days_interval(due_days('request_type')) }}
        ) as due_at,
        -- lake files written before every ticket had a status
        coalesce(tickets.status, 'unknown') as status,
        tickets.due_at is null as is_due_at_derived,
        -- null when the source does not say: unknown is neither a direct resolution nor not one
        direct_resolved as is_direct_resolved,
        dispatched_at is not null and not coalesce(direct_resolved, false) as is_dispatched,
        dispatched_at is not null and not coalesce(direct_resolved, false)
            and (responded_at is not null or coalesce(file_exports.exports_responded_at, true))
            as is_response_measured,
        closed_at is not null or coalesce(file_exports.exports_closed_at, true)
            as is_close_measured,
        coalesce(closed_at < received_at, false) as is_closed_before_received,
        coalesce(responded_at < dispatched_at, false) as is_responded_before_dispatched,
        -- event times are Beijing time, ingested_at is UTC: nothing can happen after the export
        -- reached us, i.e. after ingested_at + 8 h on the exports' clock
        coalesce(
            greatest(received_at, dispatched_at, responded_at, closed_at)
                > ingested_at + {{ hours_interval(8) }},
            false
        ) as is_future_dated

    from tickets
    left join file_exports on tickets.file_sha256 = file_exports.file_sha256

)

select
    {{ star_except('timed', ['direct_resolved']) }},
    is_closed_before_received or is_responded_before_dispatched or is_future_dated
        as is_impossible_record,
    case when is_dispatched and not is_responded_before_dispatched and not is_future_dated
        then cast({{ seconds_between('dispatched_at', 'responded_at') }} as double) / 3600
    end as hours_to_respond,
    case when not is_closed_before_received and not is_future_dated
        then cast({{ seconds_between('received_at', 'closed_at') }} as double) / 3600
    end as hours_to_close

from timed
