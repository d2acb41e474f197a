-- How many users who never bought like each kind of event (10 rows).
{{ event_likes(ref('dim_non_buyers')) }}
