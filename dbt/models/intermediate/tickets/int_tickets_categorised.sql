-- Each ticket's own top-level category label placed in a national class
-- (int_category_labels_placed): the tickets of a label take its class; a ticket without a
-- category takes the class of the null label (未分类). A left join: should the labels table be
-- older than the tickets (a run that selected fct_tickets without it), a ticket with a label
-- it lacks keeps its row with no class, and fct_tickets' contract (category_name not null)
-- fails the build, where an inner join would drop the ticket without a word.
with tickets as (

    select * from {{ ref('int_tickets_deduplicated') }}

),

label_classes as (

    select * from {{ ref('int_category_labels_placed') }}

)

select
    tickets.*,
    label_classes.category_top_level,
    label_classes.category_level_2,
    label_classes.category_level_3,
    label_classes.category_code,
    label_classes.category_mapping,
    label_classes.category_name

from tickets
left join label_classes
    on tickets.city_code = label_classes.city_code
    and tickets.category is not distinct from label_classes.category
