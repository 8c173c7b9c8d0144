"""The library's edge (issue 25 §4): misuses that gave raw torch tracebacks are handled, with the
right answer, or raise one AdvdynError naming the argument and the fix."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advdyn import AdvdynError
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective, TwoLayerNet
from advdyn.models.checks import check_device
from advdyn.sphere import diagnose


@pytest.fixture
def model_and_images():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10, dtype=torch.float32)).eval()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float32)
    return model, x, torch.tensor([1, 4, 7])


def test_float64_inputs_on_a_float32_model_are_cast(model_and_images) -> None:
    model, x, y = model_and_images
    want = ModuleObjective(model, CrossEntropy, x, y).evaluate(torch.zeros_like(x))
    obj = ModuleObjective(model, CrossEntropy, x.double(), y)
    assert obj.dtype == torch.float32
    got = obj.evaluate(torch.zeros(3, 1, 28, 28, dtype=torch.float64))
    torch.testing.assert_close(got.ell, want.ell)
    assert [f.name for f in ModuleObjective(model, CrossEntropy, x, y).model_checks()] == []


def test_one_hot_labels_read_as_classes(model_and_images) -> None:
    model, x, y = model_and_images
    hot = nn.functional.one_hot(y, 10).float()
    a = ModuleObjective(model, CrossEntropy, x, hot).evaluate(torch.zeros_like(x))
    b = ModuleObjective(model, CrossEntropy, x, y).evaluate(torch.zeros_like(x))
    torch.testing.assert_close(a.ell, b.ell)


def test_flattened_delta_reshaped_or_both_shapes_named(model_and_images) -> None:
    model, x, y = model_and_images
    obj = ModuleObjective(model.double(), CrossEntropy, x.double(), y)
    delta = torch.full((3, 784), 1e-3, dtype=torch.float64)
    flat = diagnose(obj, delta)
    full = diagnose(obj, delta.reshape(3, 1, 28, 28))
    torch.testing.assert_close(flat.L, full.L)
    assert flat.types == full.types
    with pytest.raises(AdvdynError, match=r"delta: shape \(3, 783\) .* \(1, 28, 28\)"):
        diagnose(obj, delta[:, :783])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")
def test_cuda_on_a_cpu_only_install_says_so() -> None:
    with pytest.raises(AdvdynError, match=r"device: cuda asked for, .*no CUDA.*install a CUDA "
                       r"build of torch"):
        check_device("device", "cuda")
    with pytest.raises(AdvdynError, match=r"device: cuda:0 asked for, .*no CUDA"):
        TwoLayerNet.xavier(3, 5).to(device="cuda:0")
    with pytest.raises(AdvdynError, match="device: unknown device"):
        check_device("device", "gpu0")


def test_train_mode_batchnorm_refused(model_and_images) -> None:
    _, x, y = model_and_images
    bn = nn.Sequential(nn.BatchNorm2d(1, dtype=torch.float32), nn.Flatten(),
                       nn.Linear(784, 10, dtype=torch.float32)).train()
    with pytest.raises(AdvdynError, match=r"model: .*train mode with 0 \(BatchNorm2d\)"):
        ModuleObjective(bn, CrossEntropy, x, y)
    ModuleObjective(bn.eval(), CrossEntropy, x, y)  # eval mode is fine
