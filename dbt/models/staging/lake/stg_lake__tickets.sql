with source as (

    {{ lake_source('tickets') }}

),

renamed as (

    select
        {{ lake_ticket_columns() }}

    from source

)

select * from renamed
