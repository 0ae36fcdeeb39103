"""Dagster: one package per department (what it holds and how it arrives) plus the shared
stages; `pipelines.definitions` is the code location."""
