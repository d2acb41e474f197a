"""The lakehouse code location: every definition under lakehouse/defs/, bound to the
environment's resources (lakehouse/resources.py, the one place where `local` and `aws` differ).

workspace.yaml, `[tool.dagster]`, `[tool.dg]` (`dg check defs`, `dg list defs`) and
`dagster dev -m lakehouse.definitions` all load `defs` from here.
"""

import warnings
from pathlib import Path

import dagster as dg

import lakehouse.defs
from lakehouse.resources import resources_for_env

DEFS_FOLDER = Path(lakehouse.defs.__file__).parent  # `defs_module` in [tool.dg]


def load_defs_folder() -> dg.Definitions:
    """The defs folder, loaded as dg.load_from_defs_folder loads it minus what that adds at the
    project's root: the JSON schema of every installed component type, a catalog for the UI that
    costs every run process 0.2-0.5 s and that this project, which defines no components, does
    not use. (Nor does it parse pyproject.toml at every start.)"""
    tree = dg.ComponentTree.from_module(
        defs_module=lakehouse.defs, project_root=DEFS_FOLDER.parents[1]
    )
    with warnings.catch_warnings():
        # The folder loader scans each module with a preview API, as load_from_defs_folder does.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return tree.build_defs(DEFS_FOLDER)


defs = dg.Definitions.merge(
    load_defs_folder(),
    dg.Definitions(
        resources=resources_for_env(),
        # Steps are thin drivers of dbt, DuckDB or Spark; a subprocess per step would spend more
        # time importing dagster and dbt (~7 s each) than most steps take.
        executor=dg.in_process_executor,
    ),
)
