{#- A model's `schema` config is the schema it builds into, as written: the IoT models build into
    `sensor`, where the original kept its views, not into `<target schema>_sensor` as dbt's default
    would name it. Models without one build into the target's schema (`tickit_dbt`). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
