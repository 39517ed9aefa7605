{#- The counts of file_reconciliation_source added up, for the marts that add the sources up
    further (file_reconciliation_city, file_reconciliation_entity): files, failed files, the
    rows read, rejected, skipped as totals and written, and whether every file balances. -#}
{% macro summed_file_counts() -%}
    count(*) as source_count,
    {%- for column in ['file_count', 'failed_file_count', 'rows_read', 'rows_rejected',
                       'footer_rows', 'rows_written'] %}
    cast(sum({{ column }}) as bigint) as {{ column }},
    {%- endfor %}
    bool_and(is_balanced) as is_balanced
{%- endmacro %}
