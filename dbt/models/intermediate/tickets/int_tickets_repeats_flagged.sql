-- 重复诉求: a ticket repeats when the same caller had another ticket in the same top-level
-- category within var repeat_window_days before it. One window over (city, caller, category)
-- finds the previous request, so the cost stays a sort of keys, not a self-join.
with tickets as (

    select * from {{ ref('int_tickets_measured') }}

),

keyed as not materialized (

    select
        *,
        caller_key is not null as has_known_caller,
        case
            when category_mapping = 'unmapped' then 'label:' || coalesce(category_top_level, '')
            else category_code
        end as repeat_category_key

    from tickets

),

-- The window sorts only the keys of tickets with a known caller; the few that have a
-- previous request are joined back. `keyed` is not materialised: the window reads just its
-- key columns, which costs less than buffering every column of every ticket.
previous_requests as (

    select city_code, ticket_id, previous_request_at, previous_request_ticket_id
    from (
        select
            city_code,
            ticket_id,
            lag(received_at) over same_caller_and_category as previous_request_at,
            lag(ticket_id) over same_caller_and_category as previous_request_ticket_id

        from keyed
        where has_known_caller
        window same_caller_and_category as (
            partition by city_code, caller_key, repeat_category_key
            order by received_at, ticket_id
        )
    )
    where previous_request_ticket_id is not null

)

select
    keyed.* exclude (repeat_category_key),
    previous_requests.previous_request_ticket_id,
    date_diff('second', previous_requests.previous_request_at, keyed.received_at) / 86400.0
        as days_since_previous_request,
    case when keyed.has_known_caller
        then coalesce(
            previous_requests.previous_request_at
                >= keyed.received_at - to_days({{ var('repeat_window_days') }}),
            false
        )
    end as is_repeat_request

from keyed
left join previous_requests
    on keyed.city_code = previous_requests.city_code
    and keyed.ticket_id = previous_requests.ticket_id
