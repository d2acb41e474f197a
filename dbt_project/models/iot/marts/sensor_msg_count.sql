-- Messages per sensor and location.
select
    count(msg.temp) as msg_count,
    s.guid,
    s.lat,
    s.long,
    s.location
from {{ ref('stg_sensor__installed_sensors') }} as s
inner join {{ ref('stg_sensor__messages') }} as msg on msg.guid = s.guid
group by s.guid, s.location, s.lat, s.long
