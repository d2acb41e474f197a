-- Fails with the offending amounts when a sale is a credit or below one dollar.
select price_paid
from {{ ref('stg_tickit__sales') }}
group by price_paid
having price_paid < 1
