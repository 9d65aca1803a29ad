"""The one place that imports `pynvml` and turns NVML's errors into reasons and hints.

Everything else calls NVML through `Nvml.call(name, *args)`, which raises `NvmlFailure`
(never a `pynvml` exception), so readings can be labelled `unavailable` with a reason a
user understands and a hint saying what to do.
"""

from __future__ import annotations

from typing import Any

# NVML's return codes (nvml.h); kept here so the mapping does not need pynvml loaded.
NOT_SUPPORTED = 3
NO_PERMISSION = 4
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
GPU_IS_LOST = 15
LIB_RM_VERSION_MISMATCH = 18
SUCCESS = 0
# Failures that repeat on every call: stop asking. Any other failure may be transient
# (a timeout, a busy driver), so the meter keeps sampling and counts the misses.
PERMANENT = frozenset({"not-supported", "function-not-found", "no-permission"})

_REINSTALL = "pip uninstall -y pynvml && pip install --force-reinstall nvidia-ml-py"


class NvmlFailure(Exception):
    """An NVML call failed; `reason` and `hint` are written for the user."""

    def __init__(self, kind: str, reason: str, hint: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.kind = kind  # not-supported | no-permission | driver-not-loaded | ...
        self.reason = reason
        self.hint = hint
        self.code = code


def explain(
    code: int | None, what: str, text: str = "", deprecated: str | None = None
) -> NvmlFailure:
    """The user-facing failure for NVML return `code` while doing `what`."""
    old = f"; {deprecated}: {_REINSTALL}" if deprecated else ""
    if code == NOT_SUPPORTED:
        return NvmlFailure(
            "not-supported", f"{what}: not supported on this GPU or driver (NVML: Not Supported)",
            "pre-Volta GPUs, some vGPUs and MIG slices lack this reading; nothing to fix "
            "unless you need it (a newer GPU or driver)", code)
    if code == NO_PERMISSION:
        return NvmlFailure(
            "no-permission", f"{what}: insufficient permissions (NVML: No Permission)",
            "run the job as a user allowed to query the GPU; inside a container start it "
            "with `--gpus all` and NVIDIA_DRIVER_CAPABILITIES=compute,utility", code)
    if code == DRIVER_NOT_LOADED:
        return NvmlFailure(
            "driver-not-loaded", f"{what}: NVIDIA driver not loaded (NVML: Driver Not Loaded)",
            "check `nvidia-smi`; load the kernel module (`sudo modprobe nvidia`) or reboot "
            "after a driver install", code)
    if code == LIBRARY_NOT_FOUND:
        return NvmlFailure(
            "library-not-found", "NVML library not found (libnvidia-ml.so.1)",
            "install the NVIDIA driver; in a container run with `--gpus all` (NVIDIA "
            "Container Toolkit) so libnvidia-ml.so.1 is mounted; on a machine without an "
            "NVIDIA GPU this is expected and GPU energy is not measured", code)
    if code == FUNCTION_NOT_FOUND:
        return NvmlFailure(
            "function-not-found",
            f"{what}: the installed NVIDIA driver or Python binding lacks this function "
            "(NVML: Function Not Found)",
            "upgrade the NVIDIA driver (R450 or newer has the energy counter and power; the "
            "instantaneous-power field needs R530, clock-event reasons R535) and "
            f"nvidia-ml-py{old}", code)
    if code == GPU_IS_LOST:
        return NvmlFailure(
            "gpu-lost", f"{what}: the GPU is lost (NVML: GPU is lost)",
            "the GPU fell off the bus or hung: look for Xid errors in `dmesg` and `nvidia-smi "
            "-q`; it needs a reset (`nvidia-smi -r`) or a reboot before it measures again, "
            "and this run should be repeated", code)
    if code == LIB_RM_VERSION_MISMATCH:
        return NvmlFailure(
            "version-mismatch",
            f"{what}: the NVML library and the loaded NVIDIA kernel driver are different "
            "versions (NVML: RM has detected an NVML/RM version mismatch)",
            "the driver was upgraded without a reboot, or a container ships its own "
            "libnvidia-ml.so: reboot the runner (or reload the nvidia kernel modules); in a "
            "container let the NVIDIA Container Toolkit mount the host's library", code)
    detail = f"{text} (NVML code {code})" if code is not None else text
    return NvmlFailure("error", f"{what}: NVML error: {detail}",
                       f"check `nvidia-smi -q`; a lost or resetting GPU needs attention{old}", code)


def translate(exc: BaseException, what: str, deprecated: str | None = None) -> NvmlFailure:
    if isinstance(exc, NvmlFailure):
        return exc
    code = getattr(exc, "value", None)
    if isinstance(exc, AttributeError):
        # An old binding without this function behaves like a driver without it.
        return explain(FUNCTION_NOT_FOUND, what, deprecated=deprecated)
    return explain(code if isinstance(code, int) else None, what, str(exc), deprecated)


def deprecated_pynvml(module: Any) -> str | None:
    """Name the deprecated `pynvml` package when it, not nvidia-ml-py, provides `pynvml`.

    nvidia-ml-py ships a single module `pynvml.py`; the old `pynvml` package (< 12)
    ships a package directory of its own that shadows it and lags behind the driver.
    """
    from importlib import metadata

    version: str | None
    try:
        version = metadata.version("pynvml")
    except metadata.PackageNotFoundError:
        version = None
    file = str(getattr(module, "__file__", "") or "")
    is_package = file.replace("\\", "/").endswith("pynvml/__init__.py")
    major = None
    if version:
        try:
            major = int(version.split(".")[0])
        except ValueError:
            major = None
    if is_package or (major is not None and major < 12):
        return (f"the deprecated `pynvml` package ({version or 'unknown version'}, {file}) "
                "provides `import pynvml` instead of NVIDIA's nvidia-ml-py")
    return None


def check_binding() -> str | None:
    """The deprecated-package warning for whatever `import pynvml` provides, if any."""
    try:
        import pynvml
    except ImportError:
        return None
    return deprecated_pynvml(pynvml)


class Nvml:
    """An initialised NVML; `call` is the only way the meter reaches the library."""

    def __init__(self, module: Any, deprecated: str | None) -> None:
        self.module = module
        self.deprecated = deprecated
        nvml_error = getattr(module, "NVMLError", None)
        # Only NVML's own errors (and a binding lacking a function) are translated;
        # anything else is a bug in pepr-gate and must stay visible.
        self._errors: tuple[type[BaseException], ...] = (
            (nvml_error, AttributeError) if isinstance(nvml_error, type) else (AttributeError,)
        )

    @classmethod
    def open(cls) -> Nvml:
        """Import and initialise NVML, or raise NvmlFailure saying why not."""
        try:
            import pynvml
        except ImportError as exc:
            raise NvmlFailure(
                "library-not-found", f"the NVML Python binding is not importable ({exc})",
                "pip install nvidia-ml-py (pepr-gate depends on it; reinstall pepr-gate)",
            ) from None
        lib = cls(pynvml, deprecated_pynvml(pynvml))
        lib.call("nvmlInit", what="initialising NVML")
        return lib

    def call(self, name: str, *args: Any, what: str | None = None) -> Any:
        try:
            fn = getattr(self.module, name)
            return fn(*args)
        except self._errors as exc:
            raise translate(exc, what or name, self.deprecated) from None

    def field_value(self, handle: Any, field_id: int, what: str) -> float:
        """One NVML field value (e.g. instantaneous power), as a number."""
        (value,) = self.call("nvmlDeviceGetFieldValues", handle, [field_id], what=what)
        ret = int(value.nvmlReturn)
        if ret != SUCCESS:
            raise explain(ret, what, "field value not returned", self.deprecated)
        member = _VALUE_MEMBERS.get(int(value.valueType), "uiVal")
        return float(getattr(value.value, member))

    def shutdown(self) -> None:
        try:
            self.module.nvmlShutdown()
        except self._errors:
            return  # nothing to release: NVML was not (or is no longer) initialised


# nvmlValueType_t -> the member of nvmlValue_t holding the number
_VALUE_MEMBERS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal",
                  6: "usVal"}


def text(value: Any) -> str:
    """NVML strings arrive as str (nvidia-ml-py) or bytes (old bindings)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
