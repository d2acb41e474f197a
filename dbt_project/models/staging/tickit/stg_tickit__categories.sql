{{ config(materialized='view', bind=False) }}

select
    catid as cat_id,
    catgroup as cat_group,
    catname as cat_name,
    catdesc as cat_desc
from {{ source('tickit_external', 'category') }}
where catid is not null
