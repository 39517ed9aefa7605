{#- The rules this build used, as JSON: dbt_project.yml's vars, with a data root's
    reference/dbt_vars.yml or `dbt build --vars` applied. The report prints these, so that the
    page states the rules the marts were computed with; and the sums of the weights, which the
    methods section prints beside them (the 三率 score divides by its weights' sum: macro
    three_rate_score). -#}
{%- set rules = {} -%}
{%- for name in rule_names() -%}
    {%- do rules.update({name: var(name)}) -%}
{%- endfor -%}
{%- set rules_json = string_literal(tojson(rules, sort_keys=True)) %}

select
    cast({{ rules_json }} as string) as rules_json,
    {{ sha256_hex('cast(' ~ rules_json ~ ' as string)') }} as rules_sha256,
    cast({{ var('monitoring_weights').values() | sum }} as double) as monitoring_weight_sum,
    cast({{ var('three_rate_weights').values() | sum }} as double) as three_rate_weight_sum,
    -- the engine that computed the marts (the report's footer names it)
    {{ string_literal(target.type) }} as build_engine
