-- Fails with the offending quantities when a sale sold no tickets.
select qty_sold
from {{ ref('stg_tickit__sales') }}
group by qty_sold
having qty_sold < 1
