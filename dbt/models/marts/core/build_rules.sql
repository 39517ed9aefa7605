{#- The rules this build used, as JSON: dbt_project.yml's vars, with a data root's
    reference/dbt_vars.yml or `dbt build --vars` applied. The report prints these, so that the
    page states the rules the marts were computed with. -#}
{%- set rules = {} -%}
{%- for name in rule_names() -%}
    {%- do rules.update({name: var(name)}) -%}
{%- endfor -%}
{%- set rules_json = tojson(rules, sort_keys=True) | replace("'", "''") %}

select
    cast('{{ rules_json }}' as varchar) as rules_json,
    sha256(cast('{{ rules_json }}' as varchar)) as rules_sha256
