{{ config(materialized='view', bind=False) }}

select
    dateid as date_id,
    caldate as cal_date,
    day,
    month,
    year,
    week,
    qtr,
    holiday
from {{ source('tickit_external', 'date') }}
where dateid is not null
