"""OpenL3's fused CPU path (oneDNN conv + ReLU, strided max-pooling) against the eager network."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from workbench.embed import openl3, openl3_fast

pytestmark = pytest.mark.skipif(not openl3_fast.available(), reason="this torch build has no oneDNN fused convolution")


@pytest.fixture(scope="module")
def folded():
    torch.manual_seed(0)  # the network's random init, in the test only
    model = openl3.OpenL3("mel128", "music", 6144)
    model.network.fold_batch_norm()
    with torch.inference_mode():
        spec = model.frontend(torch.from_numpy(openl3.probe_windows(3, seed=1)))
    return model, spec


def _eager(net: openl3.Network, spec: torch.Tensor) -> torch.Tensor:
    net.fused_cpu = False
    try:
        return net(spec).float()
    finally:
        net.fused_cpu = True


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=1).min())


def test_fused_path_matches_the_eager_network(folded):
    model, spec = folded
    net = model.network
    with torch.inference_mode():
        assert openl3_fast.applies(net, spec) == torch.float32
        fused, eager = net(spec), _eager(net, spec)
        np.testing.assert_allclose(fused.numpy(), eager.numpy(), rtol=1e-4, atol=1e-5 * float(eager.abs().max()))


@pytest.mark.skipif(not openl3_fast.available(torch.bfloat16),
                    reason="oneDNN's bf16 convolution needs AVX-512 BW/VL/DQ or AVX-NE-CONVERT, which this CPU lacks "
                           "(bf16 runs on the eager path here: test_bf16_takes_the_eager_path_without_onednn_bf16)")
def test_fused_bf16_path_matches_the_eager_network(folded):
    model, spec = folded
    net = model.network
    with torch.inference_mode():
        eager = _eager(net, spec)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert openl3_fast.applies(net, spec) == torch.bfloat16
            fused16, eager16 = net(spec), _eager(net, spec)
        assert fused16.dtype == torch.bfloat16
        assert _cos(fused16, eager16) > 0.99999  # the same oneDNN convolution, rounded the same way
        assert _cos(fused16, eager) >= openl3.PARITY_MIN_COSINE


@pytest.mark.parametrize("simulated", [False, True], ids=["this_cpu", "cpu_without_onednn_bf16"])
def test_bf16_takes_the_eager_path_without_onednn_bf16(folded, monkeypatch, simulated):
    model, spec = folded
    net = model.network
    if simulated:  # as on an AVX2-only CPU, where oneDNN's bf16 convolution raises a RuntimeError
        real = openl3_fast.available
        monkeypatch.setattr(openl3_fast, "available", lambda dtype=torch.float32: dtype != torch.bfloat16 and real(dtype))
    onednn_bf16 = openl3_fast.available(torch.bfloat16)
    with torch.inference_mode():
        eager = _eager(net, spec)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert openl3_fast.applies(net, spec) == (torch.bfloat16 if onednn_bf16 else None)
            out, eager16 = net(spec), _eager(net, spec)
    assert out.dtype == torch.bfloat16
    if not onednn_bf16:
        torch.testing.assert_close(out.float(), eager16, rtol=0, atol=0)  # the eager path itself
    assert _cos(out, eager) >= openl3.PARITY_MIN_COSINE


def test_fused_path_only_where_it_applies(folded):
    model, spec = folded
    with torch.inference_mode():
        assert openl3_fast.applies(openl3.OpenL3("mel128", "music", 512).network, spec) is None  # not folded
        with torch.autocast("cpu", dtype=torch.float16):
            assert openl3_fast.applies(model.network, spec) is None  # a dtype it does not run
        cast = copy.deepcopy(model.network).double()  # as export checks cast it
        assert openl3_fast.applies(cast, spec.double()) is None
        assert cast(spec.double()).dtype == torch.float64
    assert openl3_fast.applies(model.network, spec) is None  # gradients on: fine-tuning stays eager
    tuned = copy.deepcopy(model.network).requires_grad_(True)
    out = tuned(spec)
    out.sum().backward()
    assert tuned.convs[7].weight.grad is not None


def test_weights_changed_after_folding_are_used(folded):
    model, spec = folded
    net = copy.deepcopy(model.network)
    with torch.inference_mode():
        before = net(spec)
        with torch.no_grad():
            net.convs[7].weight.mul_(-0.5)  # as load_state_dict writes them
        after, eager = net(spec), _eager(net, spec)
    assert not torch.allclose(before, after)
    np.testing.assert_allclose(after.numpy(), eager.numpy(), rtol=1e-4, atol=1e-5 * float(eager.abs().max()))


@pytest.mark.parametrize("shape", [(2, 8, 128, 199), (1, 3, 5, 4), (3, 16, 17, 24)])
def test_max_pool_2x2_equals_max_pool2d(shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).contiguous(memory_format=torch.channels_last)
    out = openl3_fast.max_pool_2x2(x)
    assert torch.equal(out, torch.nn.functional.max_pool2d(x, 2))
    assert out.is_contiguous(memory_format=torch.channels_last)
