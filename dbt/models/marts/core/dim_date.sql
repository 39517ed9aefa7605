-- One row per calendar day, whole years from the first to the last year with a ticket or a
-- test call. Weekends only: China's official holidays and make-up working days (调休) change
-- every year and are not in the warehouse.
with tickets as (

    select * from {{ ref('fct_tickets') }}

),

test_calls as (

    select * from {{ ref('fct_test_calls') }}

),

event_days as (

    select cast(received_at as date) as event_day from tickets
    union all
    select cast(called_at as date) from test_calls

),

bounds as (

    select
        make_date(cast(min(year(event_day)) as integer), 1, 1) as first_day,
        make_date(cast(max(year(event_day)) as integer), 12, 31) as last_day

    from event_days

),

days as (

    {{ days_from('bounds', 'first_day', 'last_day') }}

)

select
    date_day,
    cast(year(date_day) as integer) as year,
    cast(quarter(date_day) as integer) as quarter,
    cast(month(date_day) as integer) as month,
    cast(day(date_day) as integer) as day_of_month,
    cast(dayofyear(date_day) as integer) as day_of_year,
    cast({{ iso_day_of_week('date_day') }} as integer) as iso_day_of_week,
    cast(weekofyear(date_day) as integer) as iso_week,
    {{ year_month_text('date_day') }} as year_month,
    case {{ iso_day_of_week('date_day') }}
        {%- for name in ['星期一', '星期二', '星期三', '星期四', '星期五', '星期六', '星期日'] %}
        when {{ loop.index }} then '{{ name }}'
        {%- endfor %}
    end as weekday_name,
    {{ iso_day_of_week('date_day') }} >= 6 as is_weekend

from days
