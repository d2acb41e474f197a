-- Fails with the offending values when a month falls outside 1 and 12.
select month
from {{ ref('stg_tickit__dates') }}
group by month
having not (month between 1 and 12)
