-- Sales totals per category that had sales (at most 11 rows).
with by_category as (
    select
        c.cat_group,
        c.cat_name,
        count(s.price_paid) as total_transactions,
        sum(s.qty_sold) as total_tickets_sold,
        sum(s.price_paid) as total_sales,
        sum(s.commission) as total_commissions,
        sum(s.earnings) as total_earnings
    from {{ ref('stg_tickit__sales') }} as s
    inner join {{ ref('stg_tickit__events') }} as e on e.event_id = s.event_id
    inner join {{ ref('stg_tickit__categories') }} as c on c.cat_id = e.cat_id
    group by c.cat_group, c.cat_name
)

select
    *,
    round(total_sales / total_tickets_sold, 2) as avg_tickit_sale_price
from by_category
order by total_sales desc
