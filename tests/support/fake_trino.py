"""A loopback stand-in for a Trino coordinator (no Trino server ships in a package registry).

It speaks just enough of Trino's client protocol (POST /v1/statement, one FINISHED response)
for the `trino` client to run a query end to end, records each request's headers and SQL, and
answers by running the SQL, transpiled by sqlglot, on an in-memory DuckDB. A test stand-in only.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import sqlglot

TYPES = {"INTEGER": "integer", "BIGINT": "bigint", "VARCHAR": "varchar", "DOUBLE": "double",
         "BOOLEAN": "boolean", "HUGEINT": "bigint"}  # fmt: skip


class FakeTrino:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                sql = self.rfile.read(int(self.headers["Content-Length"])).decode()
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "sql": sql})
                body = fake.answer(sql, self.headers.get("Host"))
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, sql: str, host: str) -> dict:
        rel = self.con.sql(sqlglot.transpile(sql, read="trino", write="duckdb")[0])
        columns = [
            {"name": name, "type": TYPES.get(str(t), "varchar"),
             "typeSignature": {"rawType": TYPES.get(str(t), "varchar"), "arguments": []}}
            for name, t in zip(rel.columns, rel.types, strict=True)
        ]  # fmt: skip
        rows = [[v if isinstance(v, int | float | bool) or v is None else str(v) for v in row]
                for row in rel.fetchall()]  # fmt: skip
        qid = f"q{len(self.requests)}"
        return {"id": qid, "infoUri": f"http://{host}/ui/query.html?{qid}", "columns": columns,
                "data": rows, "stats": {"state": "FINISHED"}}  # fmt: skip

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
