{{ config(materialized='table', sort='user_id', dist='user_id') }}

-- Users who never bought a ticket (an anti-join on the buyer).
select
    u.user_id,
    u.username,
    cast(u.last_name || ', ' || u.first_name as varchar(100)) as full_name,
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
where not exists (
    select 1 from {{ ref('stg_tickit__sales') }} as s where s.buyer_id = u.user_id
)
