-- Hot issues (热点议题): groups of work orders about the same problem at the same place within
-- a few days, found by the text stage (docs/text-analysis.md), one row per issue, with the
-- city's name and the year and month it is listed in (that of its first ticket). is_listed:
-- among the top issues by 热度 (heat) of its city and month.
{{ config(materialized='view') }}

with issues as (

    select * from {{ ref('stg_text__hot_issues') }}

),

cities as (

    select city_code, city_name from {{ ref('dim_city') }}

)

select
    issues.issue_id,
    issues.city_code,
    cities.city_name,
    cast(year(issues.listed_month) as integer) as listed_year,
    cast(month(issues.listed_month) as integer) as listed_month,
    issues.district,
    issues.first_day,
    issues.last_day,
    issues.tickets,
    issues.active_days,
    issues.growth,
    issues.heat,
    issues.rank_in_city_month,
    issues.is_listed,
    issues.representative_title,
    issues.representative_text,
    issues.category_name,
    issues.category_share,
    issues.theme_id,
    issues.theme_label

from issues
left join cities on issues.city_code = cities.city_code
