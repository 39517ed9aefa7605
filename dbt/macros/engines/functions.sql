{#- The functions whose name or form differs between DuckDB and Spark SQL, one macro each,
    dispatched on the adapter: the models call these and never test the engine themselves.
    Each pair computes the same value on both engines (tests/test_engine_parity.py). -#}


{#- `expression` with the characters of the string literal `characters` trimmed from both
    ends. -#}
{% macro trim_characters(expression, characters) -%}
    {{- adapter.dispatch('trim_characters')(expression, characters) -}}
{%- endmacro %}
{% macro default__trim_characters(expression, characters) -%}
    trim({{ expression }}, {{ characters }})
{%- endmacro %}
{% macro spark__trim_characters(expression, characters) -%}
    btrim({{ expression }}, {{ characters }})
{%- endmacro %}


{#- The SHA-256 of a string, as 64 lowercase hex digits. -#}
{% macro sha256_hex(expression) -%}
    {{- adapter.dispatch('sha256_hex')(expression) -}}
{%- endmacro %}
{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}
{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}


{#- A timestamp as text with all six decimals of its seconds: 2019-01-01 08:00:00.000000. -#}
{% macro timestamp_text(expression) -%}
    {{- adapter.dispatch('timestamp_text')(expression) -}}
{%- endmacro %}
{% macro default__timestamp_text(expression) -%}
    strftime({{ expression }}, '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}
{% macro spark__timestamp_text(expression) -%}
    date_format({{ expression }}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')
{%- endmacro %}


{#- A date's month as text: 2019-01. -#}
{% macro year_month_text(expression) -%}
    {{- adapter.dispatch('year_month_text')(expression) -}}
{%- endmacro %}
{% macro default__year_month_text(expression) -%}
    strftime({{ expression }}, '%Y-%m')
{%- endmacro %}
{% macro spark__year_month_text(expression) -%}
    date_format({{ expression }}, 'yyyy-MM')
{%- endmacro %}


{#- The ISO day of the week of a date: 1 Monday to 7 Sunday. -#}
{% macro iso_day_of_week(expression) -%}
    {{- adapter.dispatch('iso_day_of_week')(expression) -}}
{%- endmacro %}
{% macro default__iso_day_of_week(expression) -%}
    isodow({{ expression }})
{%- endmacro %}
{% macro spark__iso_day_of_week(expression) -%}
    extract(dayofweek_iso from {{ expression }})
{%- endmacro %}


{#- An aggregate: the group's values joined by `delimiter` in ascending order (binary order of
    the strings on both engines). -#}
{% macro sorted_string_agg(expression, delimiter) -%}
    {{- adapter.dispatch('sorted_string_agg')(expression, delimiter) -}}
{%- endmacro %}
{% macro default__sorted_string_agg(expression, delimiter) -%}
    string_agg({{ expression }}, {{ delimiter }} order by {{ expression }})
{%- endmacro %}
{% macro spark__sorted_string_agg(expression, delimiter) -%}
    array_join(array_sort(collect_list({{ expression }})), {{ delimiter }})
{%- endmacro %}


{#- An aggregate: the exact continuous percentile `fraction` (0 to 1) of the group's values,
    interpolated linearly between the two nearest values. Both engines compute it exactly;
    Spark's percentile_approx is not used. -#}
{% macro percentile_cont(expression, fraction) -%}
    {{- adapter.dispatch('percentile_cont')(expression, fraction) -}}
{%- endmacro %}
{% macro default__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}
{% macro spark__percentile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}


{#- A span of `expression` (an integer expression) days or hours, to add to a timestamp. -#}
{% macro days_interval(expression) -%}
    {{- adapter.dispatch('days_interval')(expression) -}}
{%- endmacro %}
{% macro default__days_interval(expression) -%}
    to_days(cast({{ expression }} as integer))
{%- endmacro %}
{% macro spark__days_interval(expression) -%}
    make_dt_interval(cast({{ expression }} as integer), 0, 0, 0)
{%- endmacro %}

{% macro hours_interval(expression) -%}
    {{- adapter.dispatch('hours_interval')(expression) -}}
{%- endmacro %}
{% macro default__hours_interval(expression) -%}
    to_hours(cast({{ expression }} as integer))
{%- endmacro %}
{% macro spark__hours_interval(expression) -%}
    make_dt_interval(0, cast({{ expression }} as integer), 0, 0)
{%- endmacro %}


{#- Whole seconds from `start` to `end`: the second boundaries crossed, as DuckDB's
    date_diff('second', ...) counts them (12:00:00.9 to 12:00:01.1 is one second). -#}
{% macro seconds_between(start, end) -%}
    {{- adapter.dispatch('seconds_between')(start, end) -}}
{%- endmacro %}
{% macro default__seconds_between(start, end) -%}
    date_diff('second', {{ start }}, {{ end }})
{%- endmacro %}
{% macro spark__seconds_between(start, end) -%}
    (unix_seconds(cast({{ end }} as timestamp_ltz))
        - unix_seconds(cast({{ start }} as timestamp_ltz)))
{%- endmacro %}


{#- One row per day from `first_day` to `last_day` (dates), in a column `date_day`: a SELECT
    reading `relation`, whose columns the two bounds name. -#}
{% macro days_from(relation, first_day, last_day) -%}
    {{- adapter.dispatch('days_from')(relation, first_day, last_day) -}}
{%- endmacro %}
{% macro default__days_from(relation, first_day, last_day) -%}
    select cast(unnest(generate_series({{ first_day }}, {{ last_day }}, interval 1 day)) as date)
        as date_day
    from {{ relation }}
{%- endmacro %}
{% macro spark__days_from(relation, first_day, last_day) -%}
    select explode(sequence({{ first_day }}, {{ last_day }}, interval 1 day)) as date_day
    from {{ relation }}
{%- endmacro %}


{#- Every column of `relation` (a table alias) but `columns`, in a SELECT list. -#}
{% macro star_except(relation, columns) -%}
    {{- adapter.dispatch('star_except')(relation, columns) -}}
{%- endmacro %}
{% macro default__star_except(relation, columns) -%}
    {{ relation }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__star_except(relation, columns) -%}
    {{ relation }}.* except ({{ columns | join(', ') }})
{%- endmacro %}


{#- Whether a string is valid JSON text. -#}
{% macro is_valid_json(expression) -%}
    {{- adapter.dispatch('is_valid_json')(expression) -}}
{%- endmacro %}
{% macro default__is_valid_json(expression) -%}
    json_valid({{ expression }})
{%- endmacro %}
{% macro spark__is_valid_json(expression) -%}
    (try_parse_json({{ expression }}) is not null)
{%- endmacro %}
