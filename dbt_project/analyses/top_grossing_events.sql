-- Events in the top percentile of gross sales (ceil(E/100) rows, E = events with sales).
with by_event as (
    select
        e.event_name,
        c.cat_name,
        s.event_id,
        count(s.price_paid) as total_transactions,
        sum(s.price_paid) as total_sales,
        sum(s.qty_sold) as total_tickets_sold,
        sum(s.commission) as total_commissions,
        sum(s.earnings) as total_earnings
    from {{ ref('stg_tickit__sales') }} as s
    inner join {{ ref('stg_tickit__events') }} as e on e.event_id = s.event_id
    inner join {{ ref('stg_tickit__categories') }} as c on c.cat_id = e.cat_id
    group by s.event_id, e.event_name, c.cat_name
),

ranked as (
    select *, ntile(100) over (order by total_sales desc) as percentile
    from by_event
)

select
    event_name,
    cat_name,
    total_transactions,
    total_sales,
    total_tickets_sold,
    total_commissions,
    total_earnings,
    round(total_sales / total_tickets_sold, 2) as avg_tickit_sale_price
from ranked
where percentile = 1
order by total_sales desc
