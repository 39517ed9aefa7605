-- Ticket mix per city and year of receipt by channel and by request type (HOTLINE.md, "mix by
-- channel, request type and top-level category"; the category mix is category_city_year).
-- Every enumerated value gets a row, so a channel nobody used shows as 0; shares are over the
-- tickets whose source gives the dimension, and unknown (null) where it gives none.
{#- Incremental by city, as fct_tickets is: a build rebuilds the cities whose
    lake_files_fingerprint in fct_tickets changed and drops the cities gone from it. -#}
{{ config(**incremental_by_city_config("ref('fct_tickets')")) }}
{%- set cities = cities_changed_in_fct_tickets() %}
with tickets as (

    select * from {{ ref('fct_tickets') }}
    where {{ city_condition(cities) }}

),

city_years as (

    select
        city_code,
        received_year as year,
        count(*) as city_ticket_count,
        count(channel) as channel_known_count,
        count(request_type) as request_type_known_count,
        any_value(lake_files_fingerprint) as lake_files_fingerprint
    from tickets
    group by city_code, received_year

),

dimension_values as (

    select dimension, dimension_value
    from (values
        {%- for dimension, values in [
                ('channel', ['phone', 'web', 'wechat', 'app', 'sms', 'other']),
                ('request_type', ['consult', 'help', 'complaint', 'report', 'suggestion',
                                  'praise', 'other'])] %}
        {%- set outer_loop = loop %}
        {%- for value in values %}
        ('{{ dimension }}', '{{ value }}'){{ ',' if not (outer_loop.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    ) as listed (dimension, dimension_value)

),

counted as (

    select city_code, received_year as year, 'channel' as dimension,
        channel as dimension_value, count(*) as ticket_count
    from tickets
    where channel is not null
    group by all

    union all

    select city_code, received_year, 'request_type', request_type, count(*)
    from tickets
    where request_type is not null
    group by all

)

{#- The city-year's tickets whose source gives the row's dimension. -#}
{%- set known -%}
    case dimension_values.dimension
        when 'channel' then city_years.channel_known_count
        else city_years.request_type_known_count
    end
{%- endset %}

select
    city_years.city_code,
    cast(city_years.year as integer) as year,
    dimension_values.dimension,
    dimension_values.dimension_value,
    coalesce(counted.ticket_count, 0) as ticket_count,
    city_years.city_ticket_count,
    {{ known }} as known_ticket_count,
    {{ safe_rate('coalesce(counted.ticket_count, 0)', known) }} as share_of_city,

    -- lineage
    city_years.lake_files_fingerprint

from city_years
cross join dimension_values
left join counted
    on city_years.city_code = counted.city_code
    and city_years.year = counted.year
    and dimension_values.dimension = counted.dimension
    and dimension_values.dimension_value = counted.dimension_value
