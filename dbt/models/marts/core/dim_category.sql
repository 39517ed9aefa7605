with categories as (

    select * from {{ ref('stg_reference__national_categories') }}

)

select
    category_code,
    category_name,
    category_name_en,
    category_description,
    category_level,
    is_unclassified

from categories
