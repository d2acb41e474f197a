"""Operating the code location: where run failures are reported and the pools registered.

The run-failure sensor is in lakehouse/defs/operations/.
"""
