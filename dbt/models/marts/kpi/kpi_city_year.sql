-- Ticket operations per city and year of receipt (HOTLINE.md, "Ticket operations"), each rate
-- beside its numerator and denominator and null when nothing was counted in the denominator.
-- Known, unknown and zero differ: a denominator counts only the tickets whose source says
-- what the rate measures (a source that does not export direct resolution has no 直接办结率,
-- not a rate of 0), and the open backlog counts only tickets whose status is known.
-- Closes are counted as of the year's cut-off (macro year_cutoff); callbacks and ratings carry
-- no time, so 解决率 and 满意率 use what the latest export says.
{#- Incremental by city, as fct_tickets is: a build rebuilds the cities whose
    lake_files_fingerprint in fct_tickets changed and drops the cities gone from it. -#}
{{ config(**incremental_by_city_config("ref('fct_tickets')")) }}
{%- set cities = cities_changed_in_fct_tickets() %}

with tickets as (

    select * from {{ ref('fct_tickets') }}
    where {{ city_condition(cities) }}

),

cities as (

    select * from {{ ref('dim_city') }}

),

flagged as (

    select
        *,
        {{ year_cutoff('received_year') }} as cutoff_at,
        status = 'withdrawn' as is_withdrawn,
        status <> 'unknown' as is_status_known

    from tickets

),

measured as (

    select
        *,
        closed_at is not null and closed_at <= cutoff_at as is_closed_by_cutoff,
        -- tickets resolved on the call are 直接办结率's, not 按时办结率's; a ticket whose close
        -- time its source does not export cannot be judged on time or late
        is_dispatched and is_close_measured and not is_withdrawn and due_at <= cutoff_at
            as is_due_by_cutoff,
        is_dispatched
            and responded_at >= dispatched_at
            and responded_at <= dispatched_at + {{ hours_interval(var('response_sla_hours')) }}
            as is_responded_within_sla

    from flagged

),

aggregated as (

    select
        city_code,
        received_year as year,
        any_value(cutoff_at) as cutoff_at,
        count(*) as ticket_count,
        count(*) filter (where is_direct_resolved is not null) as direct_resolved_known_count,
        count(*) filter (where is_direct_resolved) as direct_resolved_count,
        count(*) filter (where is_dispatched) as dispatched_count,
        count(*) filter (where is_response_measured) as response_measured_count,
        count(*) filter (where is_responded_within_sla) as responded_within_sla_count,
        count(*) filter (where is_due_by_cutoff) as due_by_cutoff_count,
        count(*) filter (
            where is_due_by_cutoff and is_closed_by_cutoff and closed_at <= due_at
        ) as closed_on_time_count,
        count(*) filter (where is_resolved is not null) as callback_count,
        count(*) filter (where is_resolved) as resolved_count,
        count(*) filter (
            where satisfaction in ('satisfied', 'basically_satisfied', 'dissatisfied')
        ) as rated_count,
        count(*) filter (
            where satisfaction in ('satisfied', 'basically_satisfied')
        ) as satisfied_count,
        count(*) filter (where has_known_caller) as known_caller_count,
        count(*) filter (where caller_key_kind = 'account') as account_caller_count,
        count(*) filter (where is_repeat_request) as repeat_request_count,
        -- hours_to_close is null for impossible records, so they drop out here
        count(*) filter (
            where is_closed_by_cutoff and hours_to_close is not null
        ) as closed_count,
        median(hours_to_close) filter (where is_closed_by_cutoff) as median_hours_to_close,
        {{ percentile_cont('hours_to_close', 0.9) }} filter (
            where is_closed_by_cutoff
        ) as p90_hours_to_close,
        count(*) filter (where is_status_known) as status_known_count,
        -- a ticket its source says is closed, without saying when, is not counted open
        count(*) filter (
            where is_status_known and not is_withdrawn and not is_closed_by_cutoff
                and not (status = 'closed' and closed_at is null)
        ) as open_backlog_count,
        count(*) filter (where is_withdrawn) as withdrawn_count,
        count(*) filter (where is_closed_before_received) as closed_before_received_count,
        count(*) filter (where is_future_dated) as future_dated_count,
        count(*) filter (where is_impossible_record) as impossible_record_count,
        count(*) filter (where category_mapping = 'unmapped') as unmapped_category_count,
        any_value(lake_files_fingerprint) as lake_files_fingerprint

    from measured
    group by city_code, received_year

),

rated as (

    select
        aggregated.*,
        cities.population,
        {{ safe_rate('aggregated.ticket_count * 10000', 'cities.population') }}
            as tickets_per_10k_residents,
        {%- for rate in ticket_rates() %}
        {{ safe_rate(rate.numerator, rate.denominator) }} as {{ rate.name }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from aggregated
    left join cities on aggregated.city_code = cities.city_code

)

select
    city_code,
    cast(year as integer) as year,
    cutoff_at,
    ticket_count,
    population,
    tickets_per_10k_residents,
    direct_resolved_known_count,
    direct_resolved_count,
    direct_resolved_rate,
    dispatched_count,
    response_measured_count,
    responded_within_sla_count,
    response_rate,
    due_by_cutoff_count,
    closed_on_time_count,
    on_time_close_rate,
    callback_count,
    resolved_count,
    resolution_rate,
    rated_count,
    satisfied_count,
    satisfaction_rate,
    known_caller_count,
    account_caller_count,
    repeat_request_count,
    repeat_request_rate,
    {{ three_rate_score('response_rate', 'resolution_rate', 'satisfaction_rate') }}
        as three_rate_score,
    closed_count,
    median_hours_to_close,
    p90_hours_to_close,
    status_known_count,
    -- unknown, not zero, where no ticket's status is known
    case when status_known_count > 0 then open_backlog_count end as open_backlog_count,
    withdrawn_count,
    closed_before_received_count,
    future_dated_count,
    impossible_record_count,
    unmapped_category_count,

    -- lineage
    lake_files_fingerprint

from rated
