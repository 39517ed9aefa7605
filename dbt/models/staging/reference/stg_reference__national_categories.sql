with source as (

    select * from {{ ref('national_categories') }}

)

select
    cast(category_code as string) as category_code,
    trim(category_name) as category_name,
    category_name_en,
    description as category_description,
    -- only the top level is conformed nationally; lower levels stay in the cities' wording
    1 as category_level,
    trim(category_name) = '未分类' as is_unclassified

from source
