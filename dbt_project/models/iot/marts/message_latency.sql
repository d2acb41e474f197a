-- Reading time vs load time of each message. Redshift's DATEDIFF and DuckDB's date_diff both
-- count second boundaries crossed (X-W6), at 1 s resolution since ts is whole seconds (D-17).
select
    id,
    guid,
    recorded as recorded_time,
    created as redshift_time,
    {% if target.type == 'redshift' -%}
    datediff(second, recorded, created)
    {%- else -%}
    date_diff('second', recorded, created)
    {%- endif %} as diff_seconds,
    landed_hour
from {{ ref('stg_sensor__messages') }}
