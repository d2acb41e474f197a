"""The built-in change simulator: the raw CDC objects a capture of the `moma` database would
write, without a database. Used when no source DSN is configured.

The first run writes a snapshot (`op = r`) of generated rows; every run after that writes
`batches` transactions of inserts, updates (including partition moves and no-op updates) and
deletes. Everything, LSNs and timestamps included, is a function of the seed and the sizes, so
a rerun after a crash rewrites the same bytes and resumes where the checkpoint says.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.cdc.generator import ChangeScript, Op, generate_rows
from lakehouse.cdc.records import Change
from lakehouse.cdc.sink import CaptureReport, CdcSink
from lakehouse.cdc.source_tables import (
    ARTISTS,
    ARTWORKS,
    MOMA_DATABASE,
    MOMA_SERVER,
    MOMA_TABLES,
    CdcError,
    Table,
)  # fmt: skip
from lakehouse.storage import ObjectStore

SNAPSHOT_LSN = 0x1_0000_0000  # LSNs below this would collide with a real cluster's early WAL
BATCH_LSN_STRIDE = 1 << 20
BASE_TS_MS = 1_640_401_890_000  # 2021-12-25T03:11:30Z, the fixtures' snapshot day
BATCH_INTERVAL_MS = 60_000
ENVELOPE_DELAY_MS = 7  # envelope ts_ms (processing time) trails source.ts_ms


@dataclass(frozen=True)
class SimulatorSettings:
    seed: int = 42
    artists: int = 1_000
    artworks: int = 2_000
    batch_size: int = 25


def _to_change(op: Op, lsn: int, ts_ms: int, tx: int, position: tuple[int, int],
               last_commit: int) -> Change:  # fmt: skip
    if op.kind == "delete":  # REPLICA IDENTITY DEFAULT: a delete carries the key only
        row, kind = {op.table.key[0]: op.key}, "d"
    else:
        row, kind = op.after, "c" if op.kind == "insert" else "u"
    return Change(kind, op.table, row, lsn, ts_ms, position, tx_id=tx, last_commit_lsn=last_commit)


def simulate(
    store: ObjectStore,
    *,
    batches: int = 1,
    settings: SimulatorSettings = SimulatorSettings(),  # noqa: B008 - frozen
    fmt: str = "unwrapped",
    flush_size: int = 10_000,
    server: str = MOMA_SERVER,
    tables: list[tuple[str, str]] | None = None,
) -> CaptureReport:
    """Writes the snapshot if the target has none yet, then `batches` change batches, of
    `tables` ((schema, name) pairs of MOMA_TABLES; default: all)."""
    captured = _simulated_tables(tables)
    if batches < 0:
        raise CdcError(f"batches must not be negative, not {batches}")
    if settings.batch_size < 1:
        raise CdcError(f"batch_size must be at least 1, not {settings.batch_size}")
    sink = CdcSink(
        store,
        server=server,
        db=MOMA_DATABASE,
        tables=captured,
        fmt=fmt,
        flush_size=flush_size,
        rotate_interval_ms=0,
        processing_ts_ms=lambda source_ts_ms: source_ts_ms + ENVELOPE_DELAY_MS,
    )
    params = {
        "kind": "simulator",
        "seed": settings.seed,
        "artists": settings.artists,
        "artworks": settings.artworks,
        "batch_size": settings.batch_size,
        "tables": [t.qualified for t in captured],
    }
    source = sink.source
    if source:
        # Targets from before the table choice hold every table.
        source = {"tables": [t.qualified for t in (ARTISTS, ARTWORKS)], **source}
        differs = {k: source.get(k) for k in params if source.get(k) != params[k]}
        if differs:
            raise CdcError(
                f"target {store.uri(sink.checkpoint_key)} was written with {differs}, not "
                f"{ {k: params[k] for k in differs} }; use another target or the same settings"
            )
    else:
        sink.check_writable()
    rows = generate_rows(settings.artists, settings.artworks, settings.seed)
    if source.get("snapshot") != "done":
        # Positions (0, i) are the same on every run, so a resumed snapshot skips what is
        # already written and rewrites the uncommitted object with the same bytes.
        sink.source = {**params, "snapshot": "running", "batches": 0}
        ordered = [(t, rows[t.qualified]) for t in captured]
        total = sum(len(r) for _, r in ordered)
        i = 0
        for table, table_rows in ordered:
            for row in table_rows:
                snapshot = "last" if i == total - 1 else "true"
                sink.add(
                    Change("r", table, row, SNAPSHOT_LSN, BASE_TS_MS + i, (0, i),
                           tx_id=1, snapshot=snapshot)
                )  # fmt: skip
                i += 1
        sink.flush_all()
        sink.source = {**params, "snapshot": "done", "batches": 0}
        sink.save()
    script = ChangeScript(rows, settings.seed)
    done = int(sink.source.get("batches", 0))
    for number in range(1, done + 1):
        script.batch(number, settings.batch_size)  # replays the state up to the checkpoint
    snapshot_ms = BASE_TS_MS + settings.artists + settings.artworks
    for number in range(done + 1, done + batches + 1):
        ops = script.batch(number, settings.batch_size)
        base = SNAPSHOT_LSN + number * BATCH_LSN_STRIDE
        commit_lsn = base + 64 * (len(ops) + 1)
        last_commit = SNAPSHOT_LSN + (number - 1) * BATCH_LSN_STRIDE + 64 * (len(ops) + 1)
        ts = snapshot_ms + number * BATCH_INTERVAL_MS
        for j, op in enumerate(ops):
            if op.table.qualified not in sink.topics:
                continue  # a table not simulated; the script still applies it, to stay the same
            lsn = base + 64 * (j + 1)
            sink.add(_to_change(op, lsn, ts, 1 + number, (commit_lsn, j), last_commit))
        sink.flush_all()
        sink.source = {**sink.source, "batches": number}
        sink.save()
    return sink.report()


def _simulated_tables(tables: list[tuple[str, str]] | None) -> list[Table]:
    if tables is None:
        return [ARTISTS, ARTWORKS]
    out = []
    for schema, name in tables:
        table = MOMA_TABLES.get(f"{schema}.{name}")
        if table is None:
            raise CdcError(
                f"--tables: the simulator has no table {schema}.{name} "
                f"(it simulates {', '.join(MOMA_TABLES)})"
            )
        out.append(table)
    return out
