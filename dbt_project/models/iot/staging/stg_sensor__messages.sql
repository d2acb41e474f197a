-- sensor.message with the reading time as a UTC timestamp (ts is epoch seconds, D-17).
select
    id,
    guid,
    ts,
    {% if target.type == 'redshift' -%}
    timestamp 'epoch' + ts * interval '1 second'
    {%- else -%}
    make_timestamp(ts * 1000000)
    {%- endif %} as recorded,
    temp,
    created,
    landed_hour
from {{ source('sensor', 'message') }}
