-- The taxonomy classifier of the latest text analysis: one row (none before the first), with
-- its cross-validated macro-F1, or the reason no model could be trained.
{{ config(materialized='view') }}

select * from {{ ref('stg_text__classifier_runs') }}
