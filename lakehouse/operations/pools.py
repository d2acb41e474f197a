"""`lakehouse-pools`: registers every concurrency pool of the code location with the instance.

Dagster creates a pool's slots the first time a step claims it; two runs that reach that moment
together can both be let in. Registering the pools up front (with the instance's
`concurrency.pools.default_limit`, one slot in the dagster.yaml `make dagster-home` writes) closes
that window. Existing limits are left as they are.
"""

import sys

import dagster as dg


def code_location_pools(defs: dg.Definitions) -> set[str]:
    repo = defs.get_repository_def()
    return {
        op.pool
        for job in repo.get_all_jobs()
        for op in job.graph.iterate_op_defs()
        if getattr(op, "pool", None)
    }


def register_pools(instance: dg.DagsterInstance, pools: set[str]) -> dict[str, int]:
    storage = instance.event_log_storage
    known = storage.get_concurrency_keys()
    for pool in sorted(pools - known):
        storage.initialize_concurrency_limit_to_default(pool)
    return {pool: storage.get_concurrency_info(pool).slot_count for pool in sorted(pools)}


def main() -> int:
    from lakehouse.definitions import defs

    with dg.DagsterInstance.get() as instance:
        for pool, slots in register_pools(instance, code_location_pools(defs)).items():
            print(f"pool {pool}: {slots} slot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
