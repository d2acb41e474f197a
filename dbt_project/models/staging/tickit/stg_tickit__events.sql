{{ config(materialized='view', bind=False) }}

select
    eventid as event_id,
    venueid as venue_id,
    catid as cat_id,
    dateid as date_id,
    eventname as event_name,
    starttime as start_time
from {{ source('tickit_external', 'event') }}
where eventid is not null
