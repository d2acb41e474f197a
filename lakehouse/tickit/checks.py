import datetime as dt

import dagster as dg

MARTS = ["dim_events", "dim_non_buyers", "fct_listings", "fct_sales"]

# The marts are rebuilt daily at 06:00 UTC; by 07:00 each must have been updated in the last day.
tickit_marts_freshness_checks = dg.build_last_update_freshness_checks(
    assets=[dg.AssetKey(m) for m in MARTS],
    lower_bound_delta=dt.timedelta(hours=24),
    deadline_cron="0 7 * * *",
    timezone="UTC",
    severity=dg.AssetCheckSeverity.WARN,
)

tickit_marts_freshness = dg.build_sensor_for_freshness_checks(
    freshness_checks=tickit_marts_freshness_checks,
    name="tickit_marts_freshness",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
