-- Each ticket's own top-level category label placed in a national class: an analyst's mapping
-- for the city and label wins, else a label spelled like a national class maps to it, else the
-- ticket lands in 未分类 (kept, and listed in category_unmapped_labels).
-- A city uses a few hundred labels at most: each distinct (city, label) is split, trimmed and
-- placed once, and the result joined to the tickets. The labels are read from the lake (two
-- columns), not from the deduplicated tickets: a label only superseded versions carry is
-- placed too and joins nothing. No CTE here is read twice: DuckDB would buffer it whole, and
-- a filter on cities (fct_tickets' incremental builds) could not reach the lake beneath it.
with tickets as (

    select * from {{ ref('int_tickets_deduplicated') }}

),

lake_labels as (

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
        mapped.* exclude (mapped_code, same_name_code),
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

select
    tickets.*,
    label_classes.category_top_level,
    label_classes.category_level_2,
    label_classes.category_level_3,
    label_classes.category_code,
    label_classes.category_mapping,
    label_classes.category_name

from tickets
inner join label_classes
    on tickets.city_code = label_classes.city_code
    and tickets.category is not distinct from label_classes.category
