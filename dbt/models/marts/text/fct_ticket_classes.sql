-- How each work order of fct_tickets was placed in the national taxonomy: by a mapping of its
-- label (category_placement 'mapping'), by the text classifier when no mapping placed it and
-- the model's probability reached min_confidence ('model'), or not at all ('none': 未分类).
-- A view over the text stage's latest predictions: a ticket a mapping places now is 'mapping'
-- whatever an older prediction said.
{{ config(materialized='view') }}

with tickets as (

    select
        city_code,
        ticket_id,
        received_year,
        category_code,
        category_level_2
    from {{ ref('fct_tickets') }}

),

categories as (

    select category_code, category_name, is_unclassified from {{ ref('dim_category') }}

),

predictions as (

    select * from {{ ref('stg_text__ticket_predictions') }}

),

joined as (

    select
        tickets.city_code,
        tickets.ticket_id,
        tickets.received_year,
        tickets.category_code as mapped_category_code,
        tickets.category_level_2 as mapped_level_2,
        categories.is_unclassified,
        predictions.predicted_category_code,
        predictions.predicted_level_2,
        predictions.confidence,
        predictions.level_2_confidence,
        coalesce(predictions.is_used, false) as is_prediction_used,
        predictions.model_version

    from tickets
    inner join categories on tickets.category_code = categories.category_code
    left join predictions
        on tickets.city_code = predictions.city_code
        and tickets.ticket_id = predictions.ticket_id

),

placed as (

    select
        *,
        case
            when not is_unclassified then 'mapping'
            when is_prediction_used then 'model'
            else 'none'
        end as category_placement

    from joined

)

select
    placed.city_code,
    placed.ticket_id,
    placed.received_year,
    placed.category_placement,
    case placed.category_placement
        when 'model' then placed.predicted_category_code
        else placed.mapped_category_code
    end as category_code,
    classes.category_name,
    case placed.category_placement
        when 'mapping' then placed.mapped_level_2
        when 'model' then placed.predicted_level_2
    end as category_level_2,
    placed.mapped_category_code,
    placed.predicted_category_code,
    placed.confidence as model_confidence,
    placed.level_2_confidence as model_level_2_confidence,
    placed.model_version

from placed
inner join categories as classes
    on classes.category_code = case placed.category_placement
        when 'model' then placed.predicted_category_code
        else placed.mapped_category_code
    end
