-- The texts of every work order in fct_tickets (诉求标题, 诉求内容), masked as ingestion wrote
-- them. A view over the lake: the texts are read a ticket or a city at a time, and nothing that
-- counts reads them, so fct_tickets does not store them again. It shows the version
-- fct_tickets holds: the row of the same lake file, sheet and line.
{{ config(materialized='view') }}

with tickets as (

    select city_code, ticket_id, file_sha256, source_sheet, source_row
    from {{ ref('fct_tickets') }}

),

lake_texts as (

    select city_code, file_sha256, source_sheet, source_row, title, content
    from {{ ref('stg_lake__tickets') }}

)

select
    tickets.city_code,
    tickets.ticket_id,
    lake_texts.title,
    lake_texts.content

from tickets
inner join lake_texts
    on {{ same_lake_row('tickets', 'lake_texts') }}
