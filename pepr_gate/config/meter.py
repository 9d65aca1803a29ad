"""`[meter]` and `[meter.prometheus]`: which meter measures a run, and where a cluster's
Prometheus is.
"""

from __future__ import annotations

import re
import sys
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from pepr_gate.config.sections import PositiveFloat, _Section

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass


PROM_NEW_KEYS = ("exporter", "gpu_energy_unit", "cpu_energy_unit")  # unset: hash unchanged


MAX_QUERY_TIMEOUT_S = 3600.0


class PrometheusConfig(_Section):
    """`[meter.prometheus]`: read a multi-node job's energy from the cluster's Prometheus."""

    url: str
    nodes: list[str] | str
    node_label: str = "Hostname"
    gpu_energy: str = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
    cpu_energy: str | None = None
    match: str | None = None
    timeout_s: PositiveFloat = 10.0
    # A preset sets metric, unit and node label for the GPU and CPU counters of one
    # exporter; any of those keys given here wins (docs/prometheus.md).
    exporter: Literal["dcgm", "kepler", "scaphandre", "node"] | None = None
    gpu_energy_unit: Literal["J", "mJ", "uJ"] | None = None
    cpu_energy_unit: Literal["J", "mJ", "uJ"] | None = None

    @field_validator("timeout_s")
    @classmethod
    def _timeout(cls, seconds: float) -> float:
        # A larger value overflowed the HTTP deadline (exit 4, "timestamp out of range").
        if not seconds <= MAX_QUERY_TIMEOUT_S:
            raise ValueError(f"must be at most {MAX_QUERY_TIMEOUT_S:g} s (an "
                             "hour): a query that takes longer is a server that is "
                             "not answering; the default is 10")
        return seconds

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("give the server's base URL, like http://prometheus:9090")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a port that is not a number raises here)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc}); write it like http://prometheus:9090") from None
        if not parts.hostname:
            raise ValueError("no host; write it like http://prometheus:9090")
        if parts.query or parts.fragment or url.rstrip("/").endswith(("?", "#")):
            raise ValueError("a base URL takes no ?query or #fragment (pepr-gate adds "
                             "/api/v1/query itself); drop them")
        return url

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, nodes: list[str] | str) -> list[str] | str:
        if isinstance(nodes, str) and not nodes.startswith("env:"):
            raise ValueError("a string must name a variable holding a Slurm hostlist, like "
                             "\"env:SLURM_JOB_NODELIST\"; or give a list like [\"gpu-a1\"]")
        if not nodes or not all(n.strip() for n in nodes):
            raise ValueError("empty; list the job's nodes or name an env: variable")
        return nodes

    @field_validator("node_label", "gpu_energy", "cpu_energy")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", value):
            raise ValueError("not a Prometheus metric or label name")
        return value

    @field_validator("match")
    @classmethod
    def _match(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\{.*\}", value.strip()):
            raise ValueError("write label matchers in braces, like '{namespace=\"ml\"}'")
        return value


class MeterConfig(_Section):
    kind: str = Field(default="auto",
                      description="auto | process | prometheus | replay:TRACE.json")
    gpu: bool = True
    rapl: bool = True
    prometheus: PrometheusConfig | None = None
