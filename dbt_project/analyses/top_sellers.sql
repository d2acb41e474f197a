-- Sellers in the top 0.1 % by sales (ceil(S/1000) rows, S = distinct sellers in sale).
with by_seller as (
    select
        u.username,
        u.state,
        count(s.price_paid) as total_transactions,
        sum(s.price_paid) as total_sales,
        sum(s.qty_sold) as total_tickets_sold,
        sum(s.commission) as total_commissions,
        sum(s.earnings) as total_earnings
    from {{ ref('stg_tickit__sales') }} as s
    inner join {{ ref('stg_tickit__users') }} as u on u.user_id = s.seller_id
    group by s.seller_id, u.username, u.state
),

ranked as (
    select *, ntile(1000) over (order by total_sales desc) as permille
    from by_seller
)

select
    username,
    state,
    total_transactions,
    total_sales,
    total_tickets_sold,
    total_commissions,
    total_earnings,
    round(total_sales / total_tickets_sold, 2) as avg_price_per_tickit_sold,
    round(total_earnings / total_tickets_sold, 2) as avg_earnings_per_ticket_sold
from ranked
where permille = 1
order by total_sales desc
