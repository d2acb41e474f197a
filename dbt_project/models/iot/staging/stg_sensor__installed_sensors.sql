-- One row per active sensor: the fact joined to its dimensions through the INSTALLED event.
-- The fact's grain is sensor x history event, so without this filter every message would be
-- counted once per event (X-W2).
select
    fct.id as fact_id,
    sn.guid,
    sn.sku,
    sn.mac,
    loc.lat,
    loc.long,
    loc.description as location,
    {% if target.type == 'redshift' -%}
    timestamp 'epoch' + hist.serviced * interval '1 second'
    {%- else -%}
    make_timestamp(hist.serviced * 1000000)
    {%- endif %} as installed
from {{ source('sensor', 'sensors') }} as fct
inner join {{ source('sensor', 'sensor') }} as sn on sn.id = fct.sensor_id
inner join {{ source('sensor', 'history') }} as hist on hist.id = fct.history_id
inner join {{ source('sensor', 'location') }} as loc on loc.id = fct.location_id
inner join {{ source('sensor', 'manufacturer') }} as mfr on mfr.id = fct.manufacturer_id
where sn.active and hist.action = 'INSTALLED'
