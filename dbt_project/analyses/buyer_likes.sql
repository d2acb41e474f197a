-- How many buyers like each kind of event (10 rows).
{{ event_likes(ref('int_buyers_extracted_from_users')) }}
