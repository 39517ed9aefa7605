{#- Hotlines the bundled seed lacks come from <data root>/reference/cities.csv (same columns as
    the seed), read when the file exists at run time. A code in both fails the unique test. -#}
{%- set added = data_root_reference(
    'cities.csv', ['city_code', 'city_name', 'province', 'region', 'population_2019']) -%}

with seed as (

    select
        cast(city_code as string) as city_code,
        city_name,
        province,
        region,
        cast(population_2019 as bigint) as population_2019,
        'seed' as defined_in
    from {{ ref('cities') }}

),

{% if added -%}
added as (

    select
        trim(city_code) as city_code,
        trim(city_name) as city_name,
        trim(province) as province,
        trim(region) as region,
        cast(population_2019 as bigint) as population_2019,
        'reference/cities.csv' as defined_in
    from {{ added }} as added_rows

),
{%- endif %}

source as (

    select * from seed
    {%- if added %}
    union all
    select * from added
    {%- endif %}

)

select
    city_code,
    city_name,
    city_name || '12345' as hotline_name,
    province,
    region,
    population_2019 as population,
    defined_in

from source
