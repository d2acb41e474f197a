"""Parses the dbt project once, where it is built or deployed (`make manifest`), never in a run.

    python -m lakehouse.dbt.manifest

`dbt parse` with the vars every run passes (the lake root of this environment's `lake`), on the
environment's target. It writes target/manifest.json, from which the code location builds its
asset graph, and target/partial_parse.msgpack, which dagster-dbt copies into each dbt command's
own target path: dbt then starts from this parse. Parsed with other vars, profile or target, every
run's dbt would parse the whole project again (~5 s on 2 cores) before building anything.
"""

import subprocess

from lakehouse.dbt.project import DBT_PROJECT_DIR, dbt_project


def parse_command() -> list[str]:
    from lakehouse.dbt.build import dbt_vars
    from lakehouse.resources import resources_for_env

    lake = resources_for_env()["lake"]
    return ["dbt", "parse", "--quiet", "--target", dbt_project.target, *dbt_vars(lake)]


def main() -> None:
    subprocess.run(parse_command(), cwd=DBT_PROJECT_DIR, check=True)


if __name__ == "__main__":
    main()
