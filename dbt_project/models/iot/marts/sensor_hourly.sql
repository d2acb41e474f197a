-- Per LoRa device and reading hour (UTC): min, max and mean of temperature, humidity and
-- pressure, from the typed readings (sensor.message keeps only the temperature).
select
    device_id,
    date_trunc('hour', read_at) as hour,
    count(*) as readings,
    min(temperature_f) as min_temperature_f,
    max(temperature_f) as max_temperature_f,
    round(avg(temperature_f), 2) as avg_temperature_f,
    min(humidity) as min_humidity,
    max(humidity) as max_humidity,
    round(avg(humidity), 2) as avg_humidity,
    min(pressure_kpa) as min_pressure_kpa,
    max(pressure_kpa) as max_pressure_kpa,
    round(avg(pressure_kpa), 2) as avg_pressure_kpa
from {{ ref('stg_iot__readings') }}
group by device_id, date_trunc('hour', read_at)
