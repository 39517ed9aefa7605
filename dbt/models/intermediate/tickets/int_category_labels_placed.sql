-- Every category label a city's exports carry (every version in the lake: a label only a
-- superseded version has is placed too, and joins nothing), split, trimmed and placed in a
-- national class: an analyst's mapping for the city and label wins, else a label spelled like
-- a national class maps to it, else 未分类.
-- A table of a few hundred rows per city, not a view: inlined into int_tickets_categorised,
-- DuckDB planned its joins around the ten million tickets instead of placing the labels first
-- (categorising them took far longer than with the placed labels as a table:
-- BENCHMARKS.md, "What limits each stage").
{{ config(materialized='table') }}

with lake_labels as (

    select city_code, category from {{ ref('stg_lake__tickets') }}

),

mappings as (

    select * from {{ ref('stg_reference__category_mappings') }}

),

national as (

    select * from {{ ref('stg_reference__national_categories') }}

),

unclassified as (

    select * from national where is_unclassified

),

labels as (

    select distinct city_code, category
    from lake_labels

),

labelled as (

    select
        city_code,
        category,
        {{ trim_label("split_part(category, '/', 1)") }} as category_top_level,
        {{ trim_label("split_part(category, '/', 2)") }} as category_level_2,
        {{ trim_label("split_part(category, '/', 3)") }} as category_level_3

    from labels

),

mapped as (

    select
        labelled.*,
        mapped_class.category_code as mapped_code,
        same_name_class.category_code as same_name_code

    from labelled
    left join mappings
        on labelled.city_code = mappings.city_code
        and labelled.category_top_level = mappings.source_label
    left join national as mapped_class
        on mappings.national_category_name = mapped_class.category_name
    left join national as same_name_class
        on labelled.category_top_level = same_name_class.category_name
        and not same_name_class.is_unclassified

),

placed as (

    select
        {{ star_except('mapped', ['mapped_code', 'same_name_code']) }},
        coalesce(mapped.mapped_code, mapped.same_name_code, unclassified.category_code)
            as category_code,
        case
            when mapped.mapped_code is not null then 'city_mapping'
            when mapped.same_name_code is not null then 'national_name'
            else 'unmapped'
        end as category_mapping

    from mapped
    cross join unclassified

),

label_classes as (

    select
        placed.*,
        national.category_name

    from placed
    inner join national on placed.category_code = national.category_code

)

select * from label_classes
