{{ config(materialized='view', bind=False) }}

-- One row per user who bought at least once (an aggregate plus join, not select distinct).
with first_purchase as (
    select
        buyer_id,
        min(cast(sale_time as date)) as first_purchase_date
    from {{ ref('stg_tickit__sales') }}
    group by buyer_id
)

select
    u.user_id,
    u.username,
    cast(u.last_name || ', ' || u.first_name as varchar(100)) as full_name,
    f.first_purchase_date,
    u.city,
    u.state,
    u.email,
    u.phone,
    u.like_broadway,
    u.like_classical,
    u.like_concerts,
    u.like_jazz,
    u.like_musicals,
    u.like_opera,
    u.like_rock,
    u.like_sports,
    u.like_theatre,
    u.like_vegas
from {{ ref('stg_tickit__users') }} as u
inner join first_purchase as f on f.buyer_id = u.user_id
