with source as (

    {{ text_source('hot_issues') }}

)

select * from source
