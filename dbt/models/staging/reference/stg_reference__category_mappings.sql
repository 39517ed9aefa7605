with source as (

    select * from {{ ref('category_mappings') }}

)

select
    cast(city_code as varchar) as city_code,
    -- labels are compared after the same trimming the tickets' labels get
    {{ trim_label('source_label') }} as source_label,
    trim(national_category_name) as national_category_name,
    note

from source
