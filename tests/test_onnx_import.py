"""Every supported ONNX operator alone and in the patterns exporters write, with params, MACs
and element-wise operations counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from onnx import helper  # noqa: E402
from onnx_build import Net  # noqa: E402

from nnaccel.onnxio.importer import import_model  # noqa: E402
from nnaccel.reference import run_reference  # noqa: E402


def imp(n: Net, out: str):
    network = import_model("t.onnx", model=n.model(out))
    assert run_reference(network).ok  # numpy agrees with every shape and MAC count
    return network


def types(network) -> list[str]:
    return [layer.type for layer in network.layers]


def test_conv_groups_stride_and_asymmetric_pads():
    n = Net(4, 9, 9)
    net = imp(n, n.conv("input", 6, 3, 2, g=2, pads=[0, 0, 1, 1]))
    (conv,) = net.layers
    assert (conv.groups, conv.stride, conv.padding) == (2, (2, 2), (0, 0, 1, 1))
    assert conv.output_shape == (6, 4, 4)  # (9 + 0 + 1 - 3) // 2 + 1
    assert conv.params == 6 * 2 * 9 and conv.macs == 6 * 2 * 9 * 16


def test_conv_dilation():
    n = Net(3, 16, 16)
    (conv,) = imp(n, n.conv("input", 4, 3, d=2)).layers
    assert (conv.dilation, conv.padding, conv.output_shape) == ((2, 2), (2, 2), (4, 16, 16))
    assert conv.macs == 4 * 3 * 9 * 256


def test_conv_auto_pad_same_upper():
    n = Net(3, 8, 8)
    y = n.node("Conv", ["input", n.weight((4, 3, 3, 3))], (1, 4, 4, 4), kernel_shape=[3, 3],
               strides=[2, 2], auto_pad="SAME_UPPER")
    (conv,) = imp(n, y).layers
    assert conv.padding == (0, 0, 1, 1) and conv.output_shape == (4, 4, 4)


def test_pad_is_absorbed_by_the_next_conv():
    n = Net(3, 8, 8)
    (conv,) = imp(n, n.conv(n.pad("input", 1, 2, 1, 2), 4, 3, p=0)).layers
    assert conv.padding == (1, 2) and conv.output_shape == (4, 8, 10)


def test_conv_bn_relu_folds_into_one_layer():
    n = Net(3, 8, 8)
    (conv,) = imp(n, n.cba("input", 8, 3)).layers
    assert conv.batch_norm and conv.params == 8 * 3 * 9 + 2 * 8


def test_batch_norm_without_a_conv_is_an_affine_layer_of_2c_params():
    n = Net(5, 4, 4)
    (aff,) = imp(n, n.act(n.bn("input"))).layers
    assert aff.type == "affine" and aff.params == 10 and aff.macs == 0
    assert aff.elementwise_ops == 2 * 5 * 16


@pytest.mark.parametrize("kind", ["relu", "relu6", "leaky", "sigmoid", "hsigmoid", "hswish",
                                  "silu", "tanh"])
def test_activations_add_no_layer(kind):
    n = Net(3, 8, 8)
    net = imp(n, n.act(n.conv("input", 4, 1), kind))
    assert types(net) == ["conv"]


def test_dropout_identity_softmax_are_dropped():
    n = Net(3, 4, 4)
    x = n.node("Dropout", [n.conv("input", 4, 1)], (1, 4, 4, 4))
    x = n.node("Identity", [x], (1, 4, 4, 4))
    x = n.node("Softmax", [n.gemm(n.flatten(x), 10)], (1, 10), axis=1)
    assert types(imp(n, x)) == ["conv", "fc"]


def test_gemm_and_matmul_are_fc():
    n = Net(8, 2, 2)
    x = n.gemm(n.flatten("input"), 10)
    w = n.init(np.zeros((10, 6)))
    y = n.node("Add", [n.node("MatMul", [x, w], (1, 6)), n.init(np.zeros(6))], (1, 6))
    net = imp(n, y)
    assert types(net) == ["fc", "fc"]
    assert [lay.params for lay in net.layers] == [32 * 10 + 10, 10 * 6 + 6]
    assert net.macs == 320 + 60


@pytest.mark.parametrize(("ceil", "out"), [(False, 3), (True, 4)])
def test_pools_with_and_without_ceil_mode(ceil, out):
    n = Net(2, 8, 8)
    (pool,) = imp(n, n.avgpool("input", 3, 2, ceil=ceil)).layers
    assert pool.type == "avgpool" and pool.output_shape == (2, out, out)
    assert pool.ceil_mode is ceil


def test_global_pools_and_reduce_mean():
    n = Net(6, 5, 5)
    a = n.gap("input")
    b = n.node("GlobalMaxPool", ["input"], (1, 6, 1, 1))
    c = n.mean_hw("input", keepdims=1)
    net = imp(n, n.concat([a, b, c]))
    assert types(net) == ["global_avgpool", "maxpool", "global_avgpool", "concat"]
    assert net.layers[1].kernel == (5, 5)


def test_reduce_mean_without_keepdims_feeds_a_classifier():
    n = Net(6, 5, 5)
    net = imp(n, n.gemm(n.mean_hw("input"), 3))
    assert types(net) == ["global_avgpool", "fc"] and net.layers[1].params == 6 * 3 + 3


def test_residual_add():
    n = Net(4, 6, 6)
    x = n.cba("input", 4, 3)
    net = imp(n, n.act(n.add(n.bn(n.conv(x, 4, 3)), x)))
    assert types(net) == ["conv", "conv", "add"]
    assert net.layers[2].elementwise_ops == 4 * 36 and net.macs == 2 * 4 * 4 * 9 * 36


def test_squeeze_and_excitation_block():
    n = Net(16, 7, 7)
    net = imp(n, n.se("input", 4))
    assert types(net) == ["global_avgpool", "conv", "conv", "mul"]
    mul = net.layers[-1]
    assert mul.input_shapes == ((16, 7, 7), (16, 1, 1))
    assert net.params == (16 * 4 + 4) + (4 * 16 + 16)
    assert mul.elementwise_ops == 16 * 49 and mul.macs == 0


def test_elementwise_mul_of_two_tensors():
    n = Net(3, 4, 4)
    net = imp(n, n.mul(n.conv("input", 3, 1), n.conv("input", 3, 3)))
    assert types(net) == ["conv", "conv", "mul"]


def test_silu_as_sigmoid_times_input_is_an_activation():
    n = Net(3, 4, 4)
    assert types(imp(n, n.act(n.bn(n.conv("input", 8, 3)), "silu"))) == ["conv"]


def test_channel_shuffle_becomes_one_permutation():
    n = Net(3, 8, 8)
    x = n.concat([n.conv("input", 4, 1), n.conv("input", 4, 1)])
    net = imp(n, n.shuffle(x, 2))  # Shape/Gather/Unsqueeze/Concat feed the Reshapes
    assert types(net) == ["conv", "conv", "concat", "shuffle"]
    assert net.layers[-1].groups == 2 and net.params == 2 * 12


def test_split_and_slice_on_channels():
    n = Net(6, 4, 4)
    a, b = n.split("input", [2, 4])
    c = n.slice_c("input", 1, 3)
    net = imp(n, n.concat([b, a, c]))
    assert types(net) == ["slice", "slice", "slice", "concat"]
    assert [lay.channels for lay in net.layers[:3]] == [(0, 2), (2, 6), (1, 3)]
    assert net.output_shape == (8, 4, 4)


@pytest.mark.parametrize(("mode", "ops"), [("nearest", 0), ("linear", 4)])
def test_upsample(mode, ops):
    n = Net(3, 4, 5)
    (up,) = imp(n, n.resize("input", 2, mode)).layers
    assert (up.type, up.scale, up.mode, up.output_shape) == ("upsample", (2, 2), mode, (3, 8, 10))
    assert up.elementwise_ops == ops * 3 * 8 * 10


def test_concat_of_branches_inception_style():
    n = Net(8, 8, 8)
    b1 = n.cba("input", 4, 1)
    b2 = n.cba(n.cba("input", 2, 1), 4, 3)
    b3 = n.cba(n.maxpool("input", 3, 1, 1, ceil=True), 4, 1)
    net = imp(n, n.concat([b1, b2, b3]))
    assert types(net).count("conv") == 4 and net.output_shape == (12, 8, 8)
    assert net.params == (8 * 4 + 8) + (8 * 2 + 4) + (2 * 4 * 9 + 8) + (8 * 4 + 8)


def test_pre_activation_batch_norm_on_a_concat():
    n = Net(4, 6, 6)
    cat = n.concat(["input", n.conv("input", 4, 3)])
    net = imp(n, n.conv(n.act(n.bn(cat)), 2, 1))
    assert types(net) == ["conv", "concat", "affine", "conv"]
    assert net.params == 4 * 4 * 9 + 2 * 8 + 8 * 2


def test_upsample_then_concat_as_in_a_feature_pyramid():
    n = Net(4, 8, 8)
    deep = n.cba("input", 8, 3, 2)
    up = n.resize(deep, 2)
    net = imp(n, n.cba(n.concat([up, "input"]), 4, 1))
    assert types(net) == ["conv", "upsample", "concat", "conv"]
    assert net.macs == 8 * 4 * 9 * 16 + 4 * 12 * 64


def test_flatten_reshape_then_classifier():
    n = Net(4, 3, 3)
    shape = n.init([1, -1], np.int64)
    x = n.node("Reshape", [n.conv("input", 4, 1), shape], (1, 36))
    net = imp(n, n.gemm(x, 5))
    assert net.layers[1].input_shapes == ((4, 3, 3),) and net.layers[1].weights == 36 * 5


def test_constant_nodes_are_folded():
    n = Net(3, 4, 4)
    const = n.node("Constant", [], None, value=helper.make_tensor(
        "v", 7, [2], [1, -1]))
    net = imp(n, n.gemm(n.node("Reshape", [n.conv("input", 2, 1), const], (1, 32)), 3))
    assert types(net) == ["conv", "fc"]


def test_batch_norm_fused_by_the_exporter_is_a_bias():
    # torch.onnx's TorchScript exporter, in eval mode, folds each batch norm into its conv's
    # weights and a bias: the file holds Co fewer parameters per batch norm than the framework
    n = Net(3, 8, 8)
    (conv,) = imp(n, n.act(n.conv("input", 8, 3, bias=True))).layers
    assert conv.bias and not conv.batch_norm and conv.params == 8 * 3 * 9 + 8


def test_global_max_pool_of_a_large_map_runs_on_a_small_buffer():
    from nnaccel.hardware import preset
    from nnaccel.simulate import simulate

    n = Net(4, 128, 128)
    net = imp(n, n.node("GlobalMaxPool", ["input"], (1, 4, 1, 1)))
    for engine in ("fast", "step"):
        assert simulate(net, preset("paper-8x8"), engine=engine).cycles > 0


def test_one_channel_gathered_then_unsqueezed_is_a_slice():
    n = Net(3, 4, 4)
    g = n.node("Gather", ["input", n.init(2, np.int64)], (1, 4, 4), axis=1)
    u = n.node("Unsqueeze", [g, n.init([1], np.int64)], (1, 1, 4, 4))
    net = imp(n, n.conv(n.node("Add", [u, n.init(0.5)], (1, 1, 4, 4)), 2, 1))
    assert types(net) == ["slice", "conv"] and net.layers[0].channels == (2, 3)


def test_upsample_operator_of_older_opsets():
    n = Net(2, 3, 3, opset=9)
    x = n.node("Upsample", ["input", n.init([1, 1, 2, 3])], (1, 2, 6, 9), mode="nearest")
    (up,) = imp(n, x).layers
    assert up.scale == (2, 3) and up.output_shape == (2, 6, 9)


def test_conv_transpose_is_named_as_unsupported():
    from nnaccel.errors import NetworkError

    n = Net(4, 4, 4)
    y = n.node("ConvTranspose", ["input", n.weight((4, 2, 2, 2))], (1, 2, 8, 8),
               kernel_shape=[2, 2], strides=[2, 2])
    with pytest.raises(NetworkError) as info:
        import_model("t.onnx", model=n.model(y))
    assert "(ConvTranspose): unsupported operator; supported: Abs, Add" in str(info.value)
