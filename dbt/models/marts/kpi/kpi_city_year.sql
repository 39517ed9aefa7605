-- Ticket operations per city and year of receipt, each rate beside its numerator and
-- denominator. Statistics are taken at the year's cut-off (macro year_cutoff).
with tickets as (

    select * from {{ ref('fct_tickets') }}

),

cities as (

    select * from {{ ref('dim_city') }}

),

flagged as (

    select
        *,
        {{ year_cutoff('received_year') }} as cutoff_at,
        status = 'withdrawn' as is_withdrawn,
        dispatched_at is not null and not is_direct_resolved as is_dispatched

    from tickets

),

measured as (

    select
        *,
        closed_at is not null and closed_at <= cutoff_at as is_closed_by_cutoff,
        is_dispatched
            and responded_at is not null
            and responded_at >= dispatched_at
            and responded_at <= dispatched_at + to_hours({{ var('response_sla_hours') }})
            as is_responded_within_sla

    from flagged

),

aggregated as (

    select
        city_code,
        received_year as year,
        any_value(cutoff_at) as cutoff_at,
        count(*) as ticket_count,
        count(*) filter (where is_direct_resolved) as direct_resolved_count,
        count(*) filter (where is_dispatched) as dispatched_count,
        count(*) filter (where is_responded_within_sla) as responded_within_sla_count,
        count(*) filter (where due_at <= cutoff_at and not is_withdrawn) as due_by_cutoff_count,
        count(*) filter (
            where due_at <= cutoff_at and not is_withdrawn
                and is_closed_by_cutoff and closed_at <= due_at
        ) as closed_on_time_count,
        count(*) filter (where is_resolved is not null) as callback_count,
        count(*) filter (where is_resolved) as resolved_count,
        count(*) filter (
            where satisfaction in ('satisfied', 'basically_satisfied', 'dissatisfied')
        ) as rated_count,
        count(*) filter (
            where satisfaction in ('satisfied', 'basically_satisfied')
        ) as satisfied_count,
        count(*) filter (
            where is_closed_by_cutoff and hours_to_close is not null
        ) as closed_count,
        median(hours_to_close) filter (
            where is_closed_by_cutoff
        ) as median_hours_to_close,
        quantile_cont(hours_to_close, 0.9) filter (
            where is_closed_by_cutoff
        ) as p90_hours_to_close,
        count(*) filter (
            where not is_withdrawn and not is_closed_by_cutoff
        ) as open_backlog_count,
        count(*) filter (where is_closed_before_received) as closed_before_received_count

    from measured
    group by city_code, received_year

)

select
    aggregated.city_code,
    cast(aggregated.year as integer) as year,
    aggregated.cutoff_at,
    aggregated.ticket_count,
    cities.population,
    {{ safe_rate('aggregated.ticket_count * 10000', 'cities.population') }}
        as tickets_per_10k_residents,
    aggregated.direct_resolved_count,
    {{ safe_rate('aggregated.direct_resolved_count', 'aggregated.ticket_count') }}
        as direct_resolved_rate,
    aggregated.dispatched_count,
    aggregated.responded_within_sla_count,
    {{ safe_rate('aggregated.responded_within_sla_count', 'aggregated.dispatched_count') }}
        as response_rate,
    aggregated.due_by_cutoff_count,
    aggregated.closed_on_time_count,
    {{ safe_rate('aggregated.closed_on_time_count', 'aggregated.due_by_cutoff_count') }}
        as on_time_close_rate,
    aggregated.callback_count,
    aggregated.resolved_count,
    {{ safe_rate('aggregated.resolved_count', 'aggregated.callback_count') }}
        as resolution_rate,
    aggregated.rated_count,
    aggregated.satisfied_count,
    {{ safe_rate('aggregated.satisfied_count', 'aggregated.rated_count') }}
        as satisfaction_rate,
    aggregated.closed_count,
    aggregated.median_hours_to_close,
    aggregated.p90_hours_to_close,
    aggregated.open_backlog_count,
    aggregated.closed_before_received_count

from aggregated
left join cities on aggregated.city_code = cities.city_code
