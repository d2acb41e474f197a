{{ config(materialized='table', sort='list_id', dist='list_id') }}

-- Listings of sellers who have sold at least once, with event and venue details.
with event_detail as (
    select
        e.event_id,
        e.event_name,
        e.start_time,
        c.cat_group,
        c.cat_name,
        v.venue_name,
        v.venue_city,
        v.venue_state
    from {{ ref('stg_tickit__events') }} as e
    inner join {{ ref('stg_tickit__categories') }} as c on c.cat_id = e.cat_id
    inner join {{ ref('stg_tickit__venues') }} as v on v.venue_id = e.venue_id
)

select
    l.list_id,
    l.list_time,
    ed.cat_group,
    ed.cat_name,
    ed.event_name,
    ed.venue_name,
    ed.venue_city,
    ed.venue_state,
    ed.start_time,
    s.username as seller_username,
    s.full_name as seller_name,
    l.num_tickets,
    l.price_per_ticket,
    l.total_price
from {{ ref('stg_tickit__listings') }} as l
inner join event_detail as ed on ed.event_id = l.event_id
inner join {{ ref('stg_tickit__dates') }} as d on d.date_id = l.date_id
inner join {{ ref('int_sellers_extracted_from_users') }} as s on s.user_id = l.seller_id
