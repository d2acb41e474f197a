"""dbt never waits for the run: dagster-dbt writes each dbt event's Dagster events to the instance
before it reads dbt's next log line, and those writes must not hold dbt up (a full pipe)."""

import json
import time
from pathlib import Path

from lakehouse.dbt.project import dbt_project
from lakehouse.dbt.resources import LakehouseDbtCliResource


def blocked_on_its_log(pid: int) -> bool:
    """Whether the process sleeps writing to a full pipe (`pipe_write`, `anon_pipe_write`)."""
    try:
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:  # exited
        return False


def test_dbt_runs_to_its_end_while_the_run_is_busy_with_its_first_event(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    resource = LakehouseDbtCliResource(project_dir=dbt_project, target="local")
    # ~290 kB of output (a JSON line per node), more than four times a pipe's 64 kB.
    invocation = resource.cli(["ls", "--output", "json"], raise_on_error=False)
    events = invocation.stream_raw_events()
    first = next(events)  # the run, busy writing this event's Dagster events ...
    blocked_since = None
    while invocation.process.poll() is None:  # ... while dbt writes the rest and exits
        if not blocked_on_its_log(invocation.process.pid):
            blocked_since = None
        elif blocked_since is None:
            blocked_since = time.monotonic()
        assert blocked_since is None or time.monotonic() - blocked_since < 3, (
            "dbt waits for the run to read its log"
        )
        time.sleep(0.05)
    # Every event still reaches dagster-dbt, in dbt's order, up to dbt's last.
    rest = list(events)
    received = [e.raw_event["info"] for e in [first, *rest]]
    logged = [json.loads(line)["info"] for line in (invocation.target_path / "dbt.log").open()]
    shown = [(i["name"], i["ts"]) for i in logged if i["level"] != "debug"]
    assert len(shown) > 5 and [(i["name"], i["ts"]) for i in received] == shown
    assert invocation.is_successful()
