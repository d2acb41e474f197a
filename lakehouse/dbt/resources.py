"""The dbt CLI resource, minus work this project does not use, and with dbt never waiting on
the run's event writes.

The one place that overrides dagster-dbt internals: dagster-dbt 0.29.27's `DbtCliResource.cli`
runs both steps below on every call and has no public switch for either. Upstream:
- `_cli_version` (`dbt --version`) came with dbt Fusion support (dagster-io/dagster#31337); how
  dagster-dbt tells the engines apart is still open (dagster-io/dagster#34215).
- the in-process adapter (dagster-io/dagster#21542, for row counts) is built by every `cli()`,
  with a configuration of its own that can differ from the dbt process's
  (dagster-io/dagster#33818, open).
tests/dbt/test_startup.py fails if an upgrade renames either method and the step comes back (a
second dbt process per command, an adapter in the run); drop the override when upstream has a
switch.
"""

import queue
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from importlib.metadata import version as package_version
from typing import IO

from dagster_dbt import DbtCliInvocation, DbtCliResource
from packaging import version


class DrainedStdout:
    """A dbt process's stdout, read by a thread as fast as dbt writes it.

    dagster-dbt reads dbt's JSON log line by line between writing the previous line's events to
    the instance (a SQLite commit or more each). dbt writes ~200 kB of JSON for TICKIT's 88
    nodes, three times a pipe's 64 kB, so whenever those commits lag (a busy disk), dbt stopped
    in its own log write until they caught up. Lines still reach dagster-dbt in order, each as
    soon as dbt wrote it.
    """

    def __init__(self, pipe: IO[bytes]):
        self._pipe = pipe
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.closed = False
        self._reader = threading.Thread(target=self._drain, name="dbt-stdout", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        try:
            for line in self._pipe:
                self._lines.put(line)
        finally:
            self._lines.put(None)
            self._pipe.close()

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed and (line := self._lines.get()) is not None:
            yield line

    def __enter__(self) -> "DrainedStdout":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        # The reader closes the pipe at dbt's exit; closing it under a blocked read would not
        # stop dbt either (dbt's logging ignores a broken pipe).
        self.closed = True


class LakehouseDbtCliResource(DbtCliResource):
    """DbtCliResource that runs one dbt process per command, opens no dbt adapter in the run, and
    never makes dbt wait for the run's event writes."""

    def cli(self, args: Sequence[str], **kwargs) -> DbtCliInvocation:
        invocation = super().cli(args, **kwargs)
        if invocation.process.stdout is not None:
            invocation.process.stdout = DrainedStdout(invocation.process.stdout)
        return invocation

    @cached_property
    def _cli_version(self) -> version.Version:
        # Upstream runs `dbt --version` (to tell dbt Fusion from dbt-core) before each run's
        # first dbt command: ~5 s of dbt's own start-up that tells nothing new, since the `dbt`
        # on PATH is the dbt-core installed with this environment.
        return version.parse(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        # Upstream opens a dbt adapter in the run process (profile, project and macros loaded)
        # for fetch_row_counts and fetch_column_metadata, which this project does not call: row
        # counts come from the `warehouse` resource.
        return None
