"""The code location's definitions, one folder per domain, loaded by Dagster's defs-folder loader
(lakehouse/definitions.py, which binds them to the environment's resources).

Only assets, checks, jobs, schedules and sensors live here; the code they drive (formats,
engines, the warehouse, resources' classes) is a plain library beside this folder, so CLIs and
the bridge import it without loading the asset graph. Every module-level definition in a module
below is picked up, so a new one needs no registration anywhere.
"""

# Every asset is owned by the platform team.
OWNERS = ["team:data-platform"]
