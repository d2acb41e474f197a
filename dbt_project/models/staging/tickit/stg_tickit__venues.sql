{{ config(materialized='view', bind=False) }}

select
    venueid as venue_id,
    venuename as venue_name,
    venuecity as venue_city,
    venuestate as venue_state,
    venueseats as venue_seats
from {{ source('tickit_external', 'venue') }}
where venueid is not null
