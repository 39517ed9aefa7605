with source as (

    {{ lake_source('test_calls') }}

),

renamed as (

    select
        city_code,
        year as evaluation_year,
        call_id,
        called_at,
        scenario,
        connected as is_connected,
        seconds_to_human,
        etiquette_score,
        communication_score,
        resolution_score,
        evaluator_id,
        source_id,
        source_file,
        file_sha256,
        source_row,
        ingested_at

    from source

)

select * from renamed
