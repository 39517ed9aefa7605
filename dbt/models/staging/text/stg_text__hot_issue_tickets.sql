with source as (

    {{ text_source('hot_issue_tickets') }}

)

select * from source
