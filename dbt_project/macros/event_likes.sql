{#- Sums each like_* flag of a persona relation and lists them one row per kind of event,
    written as a union so it runs the same on Redshift, DuckDB and PostgreSQL. -#}
{% macro event_likes(relation) -%}
{%- set kinds = ['sports', 'theatre', 'concerts', 'jazz', 'classical', 'opera', 'rock', 'vegas', 'broadway', 'musicals'] -%}
with likes as (
    {%- for kind in kinds %}
    select {{ loop.index }} as like_id, '{{ kind }}' as event_type,
           sum(coalesce(cast(like_{{ kind }} as int), 0)) as likes
    from {{ relation }}
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
)

select like_id, event_type, likes from likes order by like_id
{%- endmacro %}
