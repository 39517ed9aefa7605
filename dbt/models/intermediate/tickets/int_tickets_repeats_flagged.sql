-- 重复诉求: a ticket repeats when the same caller had another ticket in the same top-level
-- category within var repeat_window_days before it. One window over (city, caller, category)
-- finds the previous request, so the cost stays a sort, not a self-join.
with tickets as (

    select * from {{ ref('int_tickets_measured') }}

),

keyed as (

    select
        *,
        caller_key is not null as has_known_caller,
        -- the national class; 未分类 tickets are compared on their own label instead, since
        -- 未分类 lumps unrelated labels together
        case
            when category_mapping = 'unmapped' then 'label:' || coalesce(category_top_level, '')
            else category_code
        end as repeat_category_key

    from tickets

),

sequenced as (

    select
        *,
        lag(received_at) over previous_requests as previous_request_at,
        lag(ticket_id) over previous_requests as previous_request_ticket_id

    from keyed
    window previous_requests as (
        partition by city_code, caller_key, repeat_category_key
        order by received_at, ticket_id
    )

)

select
    * exclude (repeat_category_key, previous_request_at, previous_request_ticket_id),
    case when has_known_caller then previous_request_ticket_id end
        as previous_request_ticket_id,
    case when has_known_caller
        then date_diff('second', previous_request_at, received_at) / 86400.0
    end as days_since_previous_request,
    case when has_known_caller
        then coalesce(
            previous_request_at >= received_at - to_days({{ var('repeat_window_days') }}),
            false
        )
    end as is_repeat_request

from sequenced
