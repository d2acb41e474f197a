-- One row per message, with its sensor's attributes and installation (the original view).
select
    msg.recorded,
    msg.temp,
    s.guid,
    s.sku,
    s.mac,
    s.lat,
    s.long,
    s.location,
    s.installed,
    msg.created as redshift
from {{ ref('stg_sensor__installed_sensors') }} as s
inner join {{ ref('stg_sensor__messages') }} as msg on msg.guid = s.guid
