with cities as (

    select * from {{ ref('stg_reference__cities') }}

)

select
    city_code,
    city_name,
    hotline_name,
    province,
    region,
    population

from cities
