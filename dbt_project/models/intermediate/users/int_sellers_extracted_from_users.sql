{{ config(materialized='view', bind=False) }}

-- One row per user who sold at least once (in sale, not merely listed).
with first_sale as (
    select
        seller_id,
        min(cast(sale_time as date)) as first_sale_date
    from {{ ref('stg_tickit__sales') }}
    group by seller_id
)

select
    u.user_id,
    u.username,
    cast(u.last_name || ', ' || u.first_name as varchar(100)) as full_name,
    f.first_sale_date,
    u.city,
    u.state,
    u.email,
    u.phone
from {{ ref('stg_tickit__users') }} as u
inner join first_sale as f on f.seller_id = u.user_id
