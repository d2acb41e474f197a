"""Runs dbt against a recording stand-in for Amazon Redshift, which cannot run here.

`python -m tests.support.fake_redshift OUT.json <dbt args...>` patches redshift_connector.connect
with a connection that records every statement dbt-redshift sends, answers catalog queries with
empty results (a fresh cluster), and writes the statements to OUT.json.
"""

from __future__ import annotations

import json
import re
import sys

import redshift_connector

INT8, TEXT = 20, 25


class FakeCursor:
    def __init__(self, log: list[str]):
        self.log = log
        self.description = None
        self.rowcount = -1
        self._rows: list[tuple] = []

    def execute(self, sql, args=None, **kwargs):
        self.log.append(sql)
        text = sql.lower()
        if re.search(r"\bselect\s+count\(\*\)", text):
            self.description = [("count", INT8, None, None, None, None, None)]
            self._rows = [(0,)]
        elif text.lstrip().startswith(("select", "with")):
            self.description = [("value", TEXT, None, None, None, None, None)]
            self._rows = []
        else:
            self.description = None
            self._rows = []
        self.rowcount = len(self._rows)
        return self

    def fetchall(self):
        return list(self._rows)

    def fetchmany(self, size=None):
        return list(self._rows[:size])

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeConnection:
    def __init__(self, log: list[str]):
        self.log = log
        self.autocommit = False

    def cursor(self):
        return FakeCursor(self.log)

    def commit(self):
        self.log.append("-- commit")

    def rollback(self):
        self.log.append("-- rollback")

    def close(self):
        pass


def main() -> int:
    out, *dbt_args = sys.argv[1:]
    log: list[str] = []
    redshift_connector.connect = lambda **kwargs: FakeConnection(log)
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(dbt_args)
    with open(out, "w") as f:
        json.dump({"success": result.success, "statements": log}, f, indent=1)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
