"""Talking to a Prometheus server: node lists, selectors, raw samples, errors in words.

The HTTP API is reached through `prometheus-api-client` (its `custom_query` is the
`/api/v1/query` endpoint, evaluated at a given `time`). Raw samples come from range
vector selectors (`metric{...}[30000ms]` evaluated at an instant), which return every
stored sample with its scrape timestamp, unlike `query_range`, which resamples. Long
windows are read in chunks, so no answer holds more than about 5,000 samples a series.
Node lists use Slurm's hostlist syntax (`gpu-a[1-2,7]`), expanded by `python-hostlist`.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
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
    """`metric{node_label=~"(a|b)(\\..*)?", <match>}`: short names also match FQDNs."""
    alt = "|".join(re.escape(n) for n in nodes)
    matchers = [f"{node_label}=~`({alt})(\\..+)?`"]
    if match:
        inner = match.strip()[1:-1].strip().rstrip(",").strip()
        if inner:
            matchers.append(inner)
    return f"{metric}{{{', '.join(matchers)}}}"


def node_of(value: str, nodes: list[str]) -> str:
    """The listed node a label value names (an FQDN names its short host)."""
    if value in nodes:
        return value
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
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        self.url = self.url.rstrip("/")
        # One quick retry on a proxy's 502-504; refused connections fail fast (the
        # library's default retries three times with growing back-off).
        retry = Retry(total=1, connect=0, read=0, backoff_factor=0.2,
                      status_forcelist=(502, 503, 504), raise_on_status=False)
        self._api = PrometheusConnect(url=self.url, retry=retry, timeout=self.timeout_s)

    def close(self) -> None:
        self._api.close()

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result list (vector or matrix), evaluated at `at` if given."""
        import requests
        from prometheus_api_client import PrometheusApiClientException

        params = None if at is None else {"time": f"{at:.3f}"}
        try:
            result: list[dict[str, Any]] = self._api.custom_query(promql, params=params)
        except PrometheusApiClientException as exc:
            raise self._rejected(str(exc), promql) from None
        except requests.exceptions.Timeout:
            raise PromFailure(
                f"Prometheus at {self.url} did not answer within timeout_s = "
                f"{self.timeout_s:g} s", "raise [meter.prometheus] timeout_s, or check the "
                "server's load") from None
        except requests.exceptions.ConnectionError as exc:
            raise PromFailure(
                f"cannot reach Prometheus at {self.url} ({_short(exc)})",
                "check [meter.prometheus] url and that the server is up: from the runner, "
                f"`curl {self.url}/-/ready`") from None
        except (requests.exceptions.RequestException, ValueError, KeyError, TypeError) as exc:
            raise PromFailure(
                f"{self.url} did not answer like a Prometheus server ({_short(exc)})",
                "point [meter.prometheus] url at the server's base URL, e.g. "
                "http://prometheus:9090") from None
        return result

    def _rejected(self, text: str, promql: str) -> PromFailure:
        m = re.match(r"HTTP Status Code (\d+) \((.*)\)$", text, re.S)
        status, detail = (int(m.group(1)), m.group(2)) if m else (0, text)
        try:
            body = ast.literal_eval(detail)
            detail = json.loads(body).get("error", detail)
        except (ValueError, SyntaxError, TypeError, AttributeError):
            pass
        if status == 400 or status == 422:
            failure = PromFailure(
                f"Prometheus at {self.url} rejected the query {promql[:200]!r}: {detail}",
                "check [meter.prometheus] match, node_label and the metric names")
            failure.rejected = True
            return failure
        return PromFailure(f"Prometheus at {self.url} answered HTTP {status}: {str(detail)[:200]}",
                           "check the server and [meter.prometheus] url")

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
                              f"({_short(exc)})",
                              "point [meter.prometheus] url at Prometheus's base URL") from None


def _short(exc: BaseException) -> str:
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)|(Connection refused|Name or service not known)",
                  text)
    if m:
        return (m.group(1) or m.group(2)).strip()
    return type(exc).__name__ if len(text) > 160 else text
