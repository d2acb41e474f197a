-- Typed LoRa readings with the gateway's read time as a UTC timestamp (ts keeps its fraction).
select
    message_id,
    device_id,
    gateway_id,
    ts,
    {% if target.type == 'redshift' -%}
    timestamp 'epoch' + ts * interval '1 second'
    {%- else -%}
    make_timestamp(cast(round(ts * 1000000) as bigint))
    {%- endif %} as read_at,
    temperature_c,
    temperature_f,
    humidity,
    pressure_kpa,
    pressure_inhg,
    loaded_at,
    landed_hour
from {{ source('iot', 'sensor_messages') }}
