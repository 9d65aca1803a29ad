"""CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER resolved the way CUDA resolves them."""

from __future__ import annotations

import pytest

from pepr_gate.errors import InputError
from pepr_gate.measure.meter.devices import MigSlice, PhysicalGpu, parse_visible, resolve

A100 = [
    PhysicalGpu(0, "GPU-11111111-aaaa-4bbb-8ccc-000000000000", "NVIDIA A100-SXM4-40GB",
                "00000000:07:00.0", (8, 0), 6912),
    PhysicalGpu(1, "GPU-11112222-aaaa-4bbb-8ccc-000000000001", "NVIDIA A100-SXM4-40GB",
                "00000000:0F:00.0", (8, 0), 6912),
    PhysicalGpu(2, "GPU-33333333-aaaa-4bbb-8ccc-000000000002", "NVIDIA A100-SXM4-40GB",
                "00000000:47:00.0", (8, 0), 6912,
                mig=(MigSlice("MIG-aaaaaaaa-1111-5222-8333-444444444444", 0, 1, 0),
                     MigSlice("MIG-bbbbbbbb-1111-5222-8333-444444444444", 1, 2, 0))),
]
MIXED = [
    PhysicalGpu(0, "GPU-0000aaaa-0000-4000-8000-000000000000", "Tesla P100-PCIE-16GB",
                "00000000:03:00.0", (6, 0), 3584),
    PhysicalGpu(1, "GPU-0000bbbb-0000-4000-8000-000000000000", "NVIDIA A100-PCIE-40GB",
                "00000000:81:00.0", (8, 0), 6912),
]


def visible(value: str | None, gpus: list[PhysicalGpu] = A100, **env: str) -> list[str]:
    if value is not None:
        env["CUDA_VISIBLE_DEVICES"] = value
    res = resolve(parse_visible(env), gpus)
    return [t.mig.uuid if t.mig else t.gpu.uuid for t in res.targets]


def test_unset_means_every_gpu() -> None:
    assert visible(None) == [g.uuid for g in A100]


def test_indices() -> None:
    assert visible("0,2") == [A100[0].uuid, A100[2].uuid]
    assert visible(" 2 , 0 ") == [A100[2].uuid, A100[0].uuid]  # the job's order


def test_uuid_and_unique_prefix() -> None:
    assert visible(A100[1].uuid) == [A100[1].uuid]
    assert visible("GPU-3333") == [A100[2].uuid]
    assert visible("GPU-33333333-AAAA") == [A100[2].uuid]  # case does not matter


def test_ambiguous_prefix_stops_like_cuda_and_says_why() -> None:
    res = resolve(parse_visible({"CUDA_VISIBLE_DEVICES": "2,GPU-1111,0"}), A100)
    assert [t.gpu.index for t in res.targets] == [2]
    assert "ambiguous" in res.problems[0] and "ignores the entries after it (0)" in res.problems[0]


def test_out_of_range_index_is_a_problem() -> None:
    res = resolve(parse_visible({"CUDA_VISIBLE_DEVICES": "0,7"}), A100)
    assert [t.gpu.index for t in res.targets] == [0]
    assert "index 7 is out of range (3 GPU(s) found)" in res.problems[0]


def test_mig_ids_new_and_legacy_form() -> None:
    slice_b = A100[2].mig[1]
    res = resolve(parse_visible({"CUDA_VISIBLE_DEVICES": slice_b.uuid}), A100)
    assert res.targets[0].gpu.uuid == A100[2].uuid and res.targets[0].mig == slice_b
    legacy = f"MIG-{A100[2].uuid}/1/0"
    assert visible(legacy) == [A100[2].mig[0].uuid]
    res = resolve(parse_visible({"CUDA_VISIBLE_DEVICES": "MIG-cccccccc"}), A100)
    assert not res.targets and "matches no MIG device" in res.problems[0]


def test_whole_gpu_with_mig_enabled_gets_a_note() -> None:
    res = resolve(parse_visible({"CUDA_VISIBLE_DEVICES": "2"}), A100)
    assert "MIG enabled" in res.notes[0]


@pytest.mark.parametrize("value", ["", "-1", "-1,0"])
def test_hiding_every_gpu(value: str) -> None:
    assert visible(value) == []


def test_negative_index_hides_the_rest() -> None:
    assert visible("1,-1,0") == [A100[1].uuid]


@pytest.mark.parametrize(("value", "named"), [("0,gpu1", "'gpu1'"), ("cuda:0", "'cuda:0'"),
                                              ("0,,1", "''"), ("1,1", "'1' twice")])
def test_malformed_values_are_input_errors_naming_the_value(value: str, named: str) -> None:
    with pytest.raises(InputError) as err:
        parse_visible({"CUDA_VISIBLE_DEVICES": value})
    assert named in err.value.message and repr(value) in err.value.message
    assert err.value.exit_code == 2 and err.value.hint


def test_device_order_on_a_mixed_machine() -> None:
    # CUDA's default puts the faster A100 first; PCI_BUS_ID matches nvidia-smi.
    assert visible("0", MIXED) == [MIXED[1].uuid]
    assert visible("0", MIXED, CUDA_DEVICE_ORDER="PCI_BUS_ID") == [MIXED[0].uuid]
    res = resolve(parse_visible({"CUDA_VISIBLE_DEVICES": "0"}), MIXED)
    assert "PCI_BUS_ID" in res.notes[0]


def test_unknown_device_order_is_an_input_error() -> None:
    with pytest.raises(InputError, match="CUDA_DEVICE_ORDER='PCI'"):
        parse_visible({"CUDA_DEVICE_ORDER": "PCI"})
