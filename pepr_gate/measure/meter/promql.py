"""Talking to a Prometheus server: node lists, selectors, raw samples, errors in words.

The HTTP API's `/api/v1/query` endpoint (evaluated at a given `time`) is reached through
`promhttp.py`, which bounds each request in time and size. Raw samples come from range
vector selectors (`metric{...}[30000ms]` evaluated at an instant), which return every
stored sample with its scrape timestamp, unlike `query_range`, which resamples. Long
windows are read in chunks, so no answer holds more than about 5,000 samples a series.
Node lists use Slurm's hostlist syntax (`gpu-a[1-2,7]`), expanded by `python-hostlist`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pepr_gate.errors import ConfigError
from pepr_gate.redact import redact

Labels = tuple[tuple[str, str], ...]  # a series' labels without __name__, sorted
SAMPLES_PER_CHUNK = 5000


class PromFailure(Exception):
    def __init__(self, reason: str, hint: str) -> None:
        reason, hint = redact(reason), redact(hint)  # a URL's password never leaves
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.rejected = False  # the server answered but refused the query (HTTP 400)


def resolve_nodes(nodes: list[str] | str, env: Mapping[str, str]) -> list[str]:
    """The node names: each entry (or the named variable) expanded as a Slurm hostlist."""
    import hostlist

    field = "[meter.prometheus] nodes"
    if isinstance(nodes, str):
        var = nodes.removeprefix("env:")
        value = env.get(var, "").strip()
        if not value:
            raise ConfigError(
                f"{field} = {nodes!r}, but {var} is not set in the job's environment",
                hint="run pepr-gate inside the allocation (salloc/sbatch set "
                     "SLURM_JOB_NODELIST), or list the nodes: nodes = [\"gpu-a1\", \"gpu-a2\"]",
            )
        entries, where = [value], f"{var}={value!r}"
    else:
        entries, where = nodes, f"{field} = {nodes!r}"
    names: list[str] = []
    for entry in entries:
        try:
            names.extend(hostlist.expand_hostlist(entry.strip()))
        except hostlist.BadHostlist as exc:
            raise ConfigError(f"{where}: not a Slurm hostlist ({exc})",
                              hint="write it like gpu-a[1-2,7] or list the names") from None
    return list(dict.fromkeys(n for n in names if n))


def selector(metric: str, node_label: str, nodes: list[str], match: str | None) -> str:
    """`metric{node_label=~"(a|b)([.:].+)?", <match>}`: short names match FQDNs, host:port."""
    alt = "|".join(re.escape(n) for n in nodes)
    matchers = [f"{node_label}=~`({alt})([.:].+)?`"]
    if match:
        inner = match.strip()[1:-1].strip().rstrip(",").strip()
        if inner:
            matchers.append(inner)
    return f"{metric}{{{', '.join(matchers)}}}"


def node_of(value: str, nodes: list[str]) -> str:
    """The listed node a label value names (an FQDN or `host:port` names its short host)."""
    if value in nodes:
        return value
    host, _, port = value.rpartition(":")
    if host and port.isdigit():  # a scrape target's `instance` label, "gpu-a1:9100"
        value = host
    short = value.split(".", 1)[0]
    return short if short in nodes else value


def labels_of(series: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in series.items() if k != "__name__"))


def duration(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass
class PromClient:
    url: str
    timeout_s: float

    def __post_init__(self) -> None:
        from pepr_gate.measure.meter.promhttp import BoundedGet

        self.url = self.url.rstrip("/")
        self._http = BoundedGet(self.url, self.timeout_s)

    def close(self) -> None:
        self._http.close()

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result list (vector or matrix), evaluated at `at` if given."""
        from pepr_gate.measure.meter.promhttp import HttpFailure

        params = {"query": promql, **({} if at is None else {"time": f"{at:.3f}"})}
        for attempt in (1, 2):  # one quick retry on a proxy's 502-504
            try:
                data = self._http.json("/api/v1/query", params)
                break
            except HttpFailure as f:
                if attempt == 1 and f.kind == "status" and f.status in (502, 503, 504):
                    time.sleep(0.2)
                    continue
                raise self._failure(f, promql) from None
        with self._understood():
            if data.get("status") != "success":
                raise ValueError(f"status {data.get('status')!r}")
            result = data["data"]["result"]
            if not isinstance(result, list):
                raise TypeError("result is not a list")
        return result

    def _failure(self, f: Any, promql: str) -> PromFailure:
        if f.kind == "timeout":
            return PromFailure(
                f"Prometheus at {self.url} did not answer within timeout_s = "
                f"{self.timeout_s:g} s ({f.detail})", "raise [meter.prometheus] timeout_s, or "
                "check the server's load (the server was reached: it is slow, not down)")
        if f.kind == "unreachable":
            return PromFailure(
                f"cannot reach Prometheus at {self.url} ({_short(f.detail)})",
                "check [meter.prometheus] url and that the server is up: from the runner, "
                f"`curl {self.url}/-/ready`")
        if f.kind == "redirect":
            return PromFailure(f"Prometheus at {self.url}: {f.detail}",
                               "set [meter.prometheus] url to the server the redirect names, "
                               "if you trust it")
        if f.kind == "body":
            return PromFailure(f"Prometheus at {self.url} sent {f.detail}; not read",
                               "narrow the query: fewer nodes, or a match like "
                               "'{job=\"dcgm-exporter\"}'")
        if f.kind == "status" and f.status in (400, 422):
            failure = PromFailure(
                f"Prometheus at {self.url} rejected the query {promql[:200]!r}: {f.detail}",
                "check [meter.prometheus] match, node_label and the metric names")
            failure.rejected = True
            return failure
        if f.kind == "status":
            return PromFailure(f"Prometheus at {self.url} answered HTTP {f.status}: {f.detail}",
                               "check the server and [meter.prometheus] url")
        return PromFailure(f"{self.url} did not answer like a Prometheus server ({f.detail})",
                           "point [meter.prometheus] url at the server's base URL, e.g. "
                           "http://prometheus:9090")

    def samples(self, sel: str, lo: float, hi: float,
                interval_s: float) -> Iterator[tuple[Labels, list[tuple[float, float]]]]:
        """Every raw sample of `sel` in [lo, hi], chunk by chunk in time order."""
        chunk = max(60.0, SAMPLES_PER_CHUNK * interval_s)
        t = lo
        while t < hi:
            until = min(hi, t + chunk)
            for series in self.query(f"{sel}[{duration(until - t)}]", at=until):
                with self._understood():
                    values = [(float(ts), float(v)) for ts, v in series.get("values", [])]
                    labels = labels_of(series.get("metric", {}))
                yield labels, values
            t = until

    def latest(self, sel: str, at: float | None = None) -> dict[Labels, float]:
        """Each series' last scrape time (within Prometheus's 5-minute look-back)."""
        answer = self.query(f"timestamp({sel})", at=at)
        with self._understood():
            return {labels_of(s.get("metric", {})): float(s["value"][1]) for s in answer}

    @contextlib.contextmanager
    def _understood(self) -> Iterator[None]:
        """A malformed answer is a failed reading, never a lost run record."""
        try:
            yield
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise PromFailure(f"{self.url} answered in a shape Prometheus does not use "
                              f"({_short(str(exc))})",
                              "point [meter.prometheus] url at Prometheus's base URL") from None


def _short(text: str) -> str:
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)|(Connection refused|Name or service not known)",
                  text)
    if m:
        return (m.group(1) or m.group(2)).strip()
    return text[:160]
