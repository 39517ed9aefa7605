-- The monitoring results per region and year: how many hotlines each region has, their mean
-- total score (a plain mean over the region's hotlines) and its change (over the hotlines
-- monitored the year before too), top-ten members, 热线 count and the best-ranked hotline.
with hotlines as (

    select * from {{ ref('monitoring_hotline_year') }}

),

top_ten as (

    select year, city_code
    from {{ ref('monitoring_awards') }}
    where award_key = 'top_ten'

),

regional as (

    select
        hotlines.year,
        coalesce(hotlines.region, '—') as region,
        count(*) as hotline_count,
        avg(hotlines.total_score) as mean_total_score,
        avg(hotlines.total_score_change) as mean_total_score_change,
        count(*) filter (where hotlines.total_score_change is not null)
            as compared_hotline_count,
        count(top_ten.city_code) as top_ten_count,
        count(*) filter (where hotlines.line_class = '热线') as hot_line_count,
        min_by(hotlines.city_code, hotlines.national_rank) as best_city_code,
        min_by(hotlines.hotline_name, hotlines.national_rank) as best_hotline_name,
        min(hotlines.national_rank) as best_national_rank

    from hotlines
    left join top_ten
        on hotlines.year = top_ten.year
        and hotlines.city_code = top_ten.city_code
    group by hotlines.year, coalesce(hotlines.region, '—')

)

select
    cast(year as integer) as year,
    region,
    hotline_count,
    round(mean_total_score, 6) as mean_total_score,
    round(mean_total_score_change, 6) as mean_total_score_change,
    compared_hotline_count,
    top_ten_count,
    hot_line_count,
    best_city_code,
    best_hotline_name,
    cast(best_national_rank as integer) as best_national_rank

from regional
