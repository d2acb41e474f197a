"""dbt-duckdb plugin for the local DuckLake warehouse (profiles.yml, target `local`).

It finds the warehouse in the profile's attachment named `warehouse`. Before dbt attaches it, it
loads the DuckLake and SQLite extensions from their wheels (never from the network) and takes
the warehouse's writer turn, held until dbt exits, so dbt takes turns with the catalog sync and
the telemetry loads exactly as `Warehouse.transaction` does. Readers never wait for it.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from lakehouse.warehouse import (
    ALIAS,
    DUCKLAKE_SQLITE,
    DuckLakeWarehouse,
    load_ducklake_extensions,
    writer_turn,
)

_held = ExitStack()  # the turn lives as long as the dbt process


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # The profile's attachment of the warehouse says where it is, so the paths live once.
        found = [a for a in (self.creds.attach if self.creds else None) or () if a.alias == ALIAS]
        options = (found[0].options or {}) if len(found) == 1 else {}
        if not (options.get("data_path") and found[0].path.startswith(DUCKLAKE_SQLITE)):
            raise ValueError(
                f"profiles.yml: target `local` must attach one `{DUCKLAKE_SQLITE}<catalog>` "
                f"database with a data_path option as `{ALIAS}` (the warehouse)"
            )
        self.warehouse = DuckLakeWarehouse(
            catalog=found[0].path.removeprefix(DUCKLAKE_SQLITE), data_path=options["data_path"]
        )

    def configure_connection(self, conn) -> None:
        load_ducklake_extensions(conn)
        if not _held._exit_callbacks:
            self.warehouse.initialize()
            _held.enter_context(
                writer_turn(self.warehouse.lock_path, self.warehouse.lock_timeout_seconds)
            )

    def configure_cursor(self, cursor) -> None:
        # Unqualified DDL in macros (the external views) lands in the warehouse, not in memory.
        cursor.execute(f"use {ALIAS}")
