-- Sales totals per month of 2008 (12 rows).
with monthly as (
    select
        d.year,
        d.month,
        d.qtr as quarter,
        sum(s.price_paid) as total_sales,
        sum(s.qty_sold) as total_tickets_sold,
        sum(s.commission) as total_commissions,
        sum(s.earnings) as total_earnings
    from {{ ref('stg_tickit__sales') }} as s
    inner join {{ ref('stg_tickit__dates') }} as d on d.date_id = s.date_id
    group by d.year, d.month, d.qtr
)

select
    row_number() over (order by year, month) as sale_id,
    year,
    month,
    quarter,
    total_sales,
    total_tickets_sold,
    round(total_sales / total_tickets_sold, 2) as avg_tickit_sale_price,
    total_commissions,
    total_earnings
from monthly
order by year, month
