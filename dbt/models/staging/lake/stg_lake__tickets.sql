with source as (

    select * from {{ source('lake', 'tickets') }}

),

renamed as (

    select
        {{ lake_ticket_columns() }}

    from source

)

select * from renamed
