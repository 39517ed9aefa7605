-- 重复诉求: a ticket repeats when the same caller had another ticket in the same top-level
-- category within var repeat_window_days before it. One window over (city, caller, category)
-- finds the previous request, so the cost stays a sort of keys, not a self-join. The caller is
-- the pseudonymised phone number, or, where there is none, a message board's user account.
{%- set repeat_category_key -%}
    case
        when category_mapping = 'unmapped' then 'label:' || coalesce(category_top_level, '')
        else category_code
    end
{%- endset %}
{%- set caller = 'coalesce(caller_key, caller_account_key)' %}

with tickets as (

    select * from {{ ref('int_tickets_measured') }}

),

-- The window reads int_tickets_measured a second time, for the key columns of tickets with a
-- known caller; the few that have a previous request are joined back on (city, ticket id).
-- A filter `city_code = 'x'` (fct_tickets' incremental builds) reaches both reads of the lake
-- through that join. A CTE read twice would instead be buffered whole by DuckDB (every column
-- of every ticket), out of the filter's reach.
previous_requests as (

    select city_code, ticket_id, previous_request_at, previous_request_ticket_id
    from (
        select
            city_code,
            ticket_id,
            lag(received_at) over same_caller_and_category as previous_request_at,
            lag(ticket_id) over same_caller_and_category as previous_request_ticket_id

        from {{ ref('int_tickets_measured') }}
        where {{ caller }} is not null
        window same_caller_and_category as (
            partition by city_code, {{ caller }}, {{ repeat_category_key }}
            order by received_at, ticket_id
        )
    )
    where previous_request_ticket_id is not null

)

select
    tickets.*,
    case
        when tickets.caller_key is not null then 'phone'
        when tickets.caller_account_key is not null then 'account'
    end as caller_key_kind,
    coalesce(tickets.caller_key, tickets.caller_account_key) is not null as has_known_caller,
    previous_requests.previous_request_ticket_id,
    cast({{ seconds_between('previous_requests.previous_request_at', 'tickets.received_at') }}
        as double) / 86400
        as days_since_previous_request,
    case when coalesce(tickets.caller_key, tickets.caller_account_key) is not null
        then coalesce(
            previous_requests.previous_request_at
                >= tickets.received_at - {{ days_interval(var('repeat_window_days')) }},
            false
        )
    end as is_repeat_request

from tickets
left join previous_requests
    on tickets.city_code = previous_requests.city_code
    and tickets.ticket_id = previous_requests.ticket_id
