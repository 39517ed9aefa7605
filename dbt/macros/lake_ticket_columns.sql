{#- The lake's work-order columns that the staging models of tickets pass on, in order. -#}
{% macro lake_ticket_columns() -%}
        -- ids
        city_code,
        ticket_id,

        -- request
        received_at,
        channel,
        request_type,
        category,
        district,
        title,
        content,
        caller_key,
        caller_account_key,

        -- handling
        direct_resolved,
        dispatched_at,
        department,
        responded_at,
        due_at,
        closed_at,
        status,
        resolved,
        satisfaction,

        -- lineage
        source_id,
        source_file,
        file_sha256,
        source_sheet,
        source_row,
        ingested_at
{%- endmacro %}
