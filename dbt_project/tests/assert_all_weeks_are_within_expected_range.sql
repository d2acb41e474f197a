-- Fails with the offending values when a week falls outside 1 and 53.
select week
from {{ ref('stg_tickit__dates') }}
group by week
having not (week between 1 and 53)
