with source as (

    {{ lake_source('ticket_versions') }}

),

renamed as (

    select
        {{ lake_ticket_columns() }},
        -- ingestion moves a file superseded whole into superseded/ beneath its folder
        regexp_extract(filename, '/([^/]+)/[^/]+$', 1) = 'superseded' as is_in_superseded_file

    from source

)

select * from renamed
