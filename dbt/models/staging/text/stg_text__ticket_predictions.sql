with source as (

    {{ text_source('ticket_predictions') }}

)

select * from source
