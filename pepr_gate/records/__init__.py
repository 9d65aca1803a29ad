"""The run record and the check result: what pepr-gate writes, stores and reads back.

`model` holds the run record, `check` the check result, `load` the readers that check a
file against both (schema, ranges, consistency). Import from here: every name below is
the package's public surface.
"""

from __future__ import annotations

from pepr_gate.records.check import (
    CheckResult as CheckResult,
)
from pepr_gate.records.check import (
    Side as Side,
)
from pepr_gate.records.load import (
    load_check_result as load_check_result,
)
from pepr_gate.records.load import (
    load_run_record as load_run_record,
)
from pepr_gate.records.load import (
    parse_run_record as parse_run_record,
)
from pepr_gate.records.model import (
    CHECK_SCHEMA as CHECK_SCHEMA,
)
from pepr_gate.records.model import (
    MAX_LOAD as MAX_LOAD,
)
from pepr_gate.records.model import (
    MAX_WALL_CPU_RATIO as MAX_WALL_CPU_RATIO,
)
from pepr_gate.records.model import (
    RUN_SCHEMA as RUN_SCHEMA,
)
from pepr_gate.records.model import (
    UNITS as UNITS,
)
from pepr_gate.records.model import (
    VARIANTS as VARIANTS,
)
from pepr_gate.records.model import (
    Component as Component,
)
from pepr_gate.records.model import (
    Conditions as Conditions,
)
from pepr_gate.records.model import (
    EnergyMethod as EnergyMethod,
)
from pepr_gate.records.model import (
    GitInfo as GitInfo,
)
from pepr_gate.records.model import (
    GpuInfo as GpuInfo,
)
from pepr_gate.records.model import (
    Hardware as Hardware,
)
from pepr_gate.records.model import (
    Method as Method,
)
from pepr_gate.records.model import (
    Normalization as Normalization,
)
from pepr_gate.records.model import (
    Pairing as Pairing,
)
from pepr_gate.records.model import (
    Performance as Performance,
)
from pepr_gate.records.model import (
    Resource as Resource,
)
from pepr_gate.records.model import (
    Resources as Resources,
)
from pepr_gate.records.model import (
    RunRecord as RunRecord,
)
from pepr_gate.records.model import (
    Scope as Scope,
)
from pepr_gate.records.model import (
    Score as Score,
)
from pepr_gate.records.model import (
    Stage as Stage,
)
from pepr_gate.records.model import (
    VariantName as VariantName,
)
from pepr_gate.records.model import (
    VerdictName as VerdictName,
)
from pepr_gate.records.model import (
    utcnow as utcnow,
)
