with source as (

    select * from {{ ref('cities') }}

)

select
    cast(city_code as varchar) as city_code,
    city_name,
    city_name || '12345' as hotline_name,
    province,
    region,
    cast(population_2019 as bigint) as population

from source
