-- Themes of hot issues per year: issues of several cities whose representative texts share
-- their wording (docs/text-analysis.md), ranked by how many cities they span, then by tickets.
-- cities_with_tickets is the coverage: the cities with work orders that year.
{{ config(materialized='view') }}

with issues as (

    select * from {{ ref('hot_issues') }}

),

coverage as (

    select received_year, count(distinct city_code) as cities_with_tickets
    from {{ ref('fct_tickets') }}
    group by received_year

),

theme_cities as (

    select distinct listed_year, theme_id, city_name from issues

),

city_lists as (

    select
        listed_year,
        theme_id,
        {{ sorted_string_agg('city_name', string_literal('、')) }} as city_names

    from theme_cities
    group by listed_year, theme_id

),

counted as (

    select
        listed_year,
        theme_id,
        min(theme_label) as theme_label,
        count(distinct city_code) as cities,
        count(*) as issues,
        cast(sum(tickets) as bigint) as tickets,
        max(heat) as max_heat,
        mode(category_name) as category_name

    from issues
    group by listed_year, theme_id

),

themes as (

    select counted.*, city_lists.city_names
    from counted
    inner join city_lists using (listed_year, theme_id)

)

select
    themes.*,
    coverage.cities_with_tickets,
    cast(row_number() over (
        partition by themes.listed_year
        order by themes.cities desc, themes.tickets desc, themes.theme_id
    ) as bigint) as theme_rank

from themes
left join coverage on themes.listed_year = coverage.received_year
