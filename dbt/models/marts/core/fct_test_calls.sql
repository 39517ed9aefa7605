-- One row per test call; a call delivered twice (re-sent export) keeps its latest version.
with calls as (

    select * from {{ ref('stg_lake__test_calls') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by evaluation_year, call_id
            order by ingested_at desc, source_file desc, source_row desc
        ) as version_rank

    from calls

)

select
    evaluation_year,
    call_id,
    city_code,
    called_at,
    scenario,
    is_connected,
    case when is_connected then seconds_to_human end as seconds_to_human,
    case when is_connected then etiquette_score end as etiquette_score,
    case when is_connected then communication_score end as communication_score,
    case when is_connected then resolution_score end as resolution_score,
    evaluator_id,
    source_id,
    source_file,
    source_row

from latest
where version_rank = 1
