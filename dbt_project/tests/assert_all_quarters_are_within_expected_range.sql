-- Fails with the offending values when a qtr falls outside 1 and 4.
select qtr
from {{ ref('stg_tickit__dates') }}
group by qtr
having not (qtr between 1 and 4)
