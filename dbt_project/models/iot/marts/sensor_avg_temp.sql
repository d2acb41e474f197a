-- Mean temperature (°F) per sensor, to 2 dp on every engine (DuckDB's avg is a double).
select
    round(avg(msg.temp), 2) as avg_temp,
    count(s.guid) as msg_count,
    s.guid,
    s.lat,
    s.long,
    s.location
from {{ ref('stg_sensor__installed_sensors') }} as s
inner join {{ ref('stg_sensor__messages') }} as msg on msg.guid = s.guid
group by s.guid, s.location, s.lat, s.long
