{{ config(materialized='view', bind=False) }}

-- The derived measures are cast so DuckDB and Redshift agree on their type (decimal, not double).
select
    saleid as sale_id,
    listid as list_id,
    sellerid as seller_id,
    buyerid as buyer_id,
    eventid as event_id,
    dateid as date_id,
    qtysold as qty_sold,
    cast(round(pricepaid / qtysold, 2) as decimal(8, 2)) as ticket_price,
    pricepaid as price_paid,
    cast(round(commission / pricepaid * 100, 2) as decimal(8, 2)) as commission_prcnt,
    commission,
    pricepaid - commission as earnings,
    saletime as sale_time
from {{ source('tickit_external', 'sale') }}
where saleid is not null
