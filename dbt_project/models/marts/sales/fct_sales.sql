{{ config(materialized='table', sort='sale_id', dist='sale_id') }}

-- One row per sale, denormalised with event, buyer and seller details.
select
    s.sale_id,
    s.sale_time,
    d.qtr,
    c.cat_group,
    c.cat_name,
    e.event_name,
    b.username as buyer_username,
    b.full_name as buyer_name,
    b.state as buyer_state,
    b.first_purchase_date as buyer_first_purchase_date,
    se.username as seller_username,
    se.full_name as seller_name,
    se.state as seller_state,
    se.first_sale_date as seller_first_sale_date,
    s.ticket_price,
    s.qty_sold,
    s.price_paid,
    s.commission_prcnt,
    s.commission,
    s.earnings
from {{ ref('stg_tickit__sales') }} as s
inner join {{ ref('stg_tickit__listings') }} as l on l.list_id = s.list_id
inner join {{ ref('int_buyers_extracted_from_users') }} as b on b.user_id = s.buyer_id
inner join {{ ref('int_sellers_extracted_from_users') }} as se on se.user_id = s.seller_id
inner join {{ ref('stg_tickit__events') }} as e on e.event_id = s.event_id
inner join {{ ref('stg_tickit__categories') }} as c on c.cat_id = e.cat_id
inner join {{ ref('stg_tickit__dates') }} as d on d.date_id = s.date_id
