"""The Dagster code location: every department's definitions, merged."""

import dagster as dg

from pipelines import (
    building_tax,
    civil_affairs,
    heritage,
    hotline,
    medical_insurance,
    pension,
    registry,
    reports,
    traceability,
)
from pipelines.entities import entity_defs
from pipelines.quality import scorecard_defs
from pipelines.resources import CitybaseHome

DEPARTMENTS = [registry, medical_insurance, pension, civil_affairs, hotline, building_tax, traceability, heritage]

defs = dg.Definitions.merge(
    *(d.defs for d in DEPARTMENTS),
    scorecard_defs(DEPARTMENTS),
    entity_defs(DEPARTMENTS),
    reports.defs,  # 一表通: reads the base library, and its returns come back as one more source
    dg.Definitions(resources={"citybase": CitybaseHome()}),
)
