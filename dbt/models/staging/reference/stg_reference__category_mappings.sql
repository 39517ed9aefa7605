{#- The bundled seed's mappings, with a deployment's own laid over them from
    <data root>/reference/category_mappings.csv (same columns as the seed), read when the file
    exists at run time: for the same city and label, the data root's row wins. -#}
{%- set added = data_root_reference(
    'category_mappings.csv',
    ['city_code', 'source_label', 'national_category_name', 'note']) -%}

with seed as (

    select
        cast(city_code as string) as city_code,
        source_label,
        national_category_name,
        note,
        'seed' as defined_in
    from {{ ref('category_mappings') }}

),

{% if added -%}
added as (

    select
        trim(city_code) as city_code,
        source_label,
        national_category_name,
        note,
        'reference/category_mappings.csv' as defined_in
    from {{ added }} as added_rows

),
{%- endif %}

source as (

    select * from seed
    {%- if added %}
    where not exists (
        select 1 from added
        where added.city_code = seed.city_code
            and {{ trim_label('added.source_label') }} = {{ trim_label('seed.source_label') }}
    )
    union all
    select * from added
    {%- endif %}

)

select
    city_code,
    -- labels are compared after the same trimming the tickets' labels get
    {{ trim_label('source_label') }} as source_label,
    trim(national_category_name) as national_category_name,
    note,
    defined_in

from source
