-- sensor_avg_temp over the messages recorded in the last 30 minutes (UTC), both ends
-- included. The original counted minute boundaries, a 30-31 minute window (X-W6); this is
-- exactly 30 minutes. "Now" is the var iot_now (epoch seconds) when given, for tests (D-18).
{% set now_epoch = var('iot_now', none) %}
{% if now_epoch is not none -%}
    {% if target.type == 'redshift' -%}
        {% set now_ts = "timestamp 'epoch' + " ~ (now_epoch | int) ~ " * interval '1 second'" %}
    {%- else -%}
        {% set now_ts = "make_timestamp(" ~ (now_epoch | int) ~ " * cast(1000000 as bigint))" %}
    {%- endif %}
{%- else -%}
    {% set now_ts = "getdate()" if target.type == 'redshift' else "(now() at time zone 'UTC')" %}
{%- endif %}
select
    round(avg(msg.temp), 2) as avg_temp,
    count(s.guid) as msg_count,
    s.guid,
    s.lat,
    s.long,
    s.location
from {{ ref('stg_sensor__installed_sensors') }} as s
inner join {{ ref('stg_sensor__messages') }} as msg on msg.guid = s.guid
where msg.recorded >= {{ now_ts }} - interval '30 minutes'
    and msg.recorded <= {{ now_ts }}
group by s.guid, s.location, s.lat, s.long
