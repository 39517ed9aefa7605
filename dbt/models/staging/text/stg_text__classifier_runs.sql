with source as (

    {{ text_source('classifier_runs') }}

)

select * from source
