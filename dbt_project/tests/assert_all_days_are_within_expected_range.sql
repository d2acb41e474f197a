-- Fails with the offending values when a day falls outside 1 and 31.
select day
from {{ ref('stg_tickit__dates') }}
group by day
having not (day between 1 and 31)
