"""Zoph & Le's own space (2017, Sec. 3.1-3.3, 4.1): decisions, text, Sec. 3.3's wiring, controller, costs, drawing, export, CLI."""

from __future__ import annotations

import json

import pytest
import torch

import nasrl_nb.cli.commands as cli_main
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.assembly.standalone import standalone_source
from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.nn.child_network import ChildNetwork, concat_padded
from nasrl_nb.nn.complexity import count_flops, count_parameters
from nasrl_nb.nn.data import load_dataset
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.registry import SPACES, architecture_from_json, get_space, parse_architecture
from nasrl_nb.spaces.zoph_le_space import FILTER_SIZES, NUM_FILTERS, STRIDES, ZophLeSpace

SPACE = ZophLeSpace()
STRIDED = ZophLeSpace(num_layers=4, strides=True)


def layer(h, w, n, inputs=(), sh=None, sw=None):
    row = {"filter_height": h, "filter_width": w, "num_filters": n, "inputs": list(inputs)}
    if sh is not None:
        row |= {"stride_height": sh, "stride_width": sw}
    return row


# --- the space -------------------------------------------------------------------------------------------
def test_each_layer_searches_the_papers_values_and_an_anchor_point_over_every_earlier_layer():
    assert SPACE.num_layers == 3 and "zoph-le" in SPACES and get_space("zoph-le") == SPACE
    names = [d.name for d in SPACE.decisions]
    assert names == [
        "layer_0.filter_height", "layer_0.filter_width", "layer_0.num_filters",
        "layer_1.input_0", "layer_1.filter_height", "layer_1.filter_width", "layer_1.num_filters",
        "layer_2.input_0", "layer_2.input_1", "layer_2.filter_height", "layer_2.filter_width", "layer_2.num_filters",
    ]
    by_name = {d.name: d for d in SPACE.decisions}
    assert by_name["layer_2.filter_width"].choices == FILTER_SIZES == (1, 3, 5, 7)
    assert by_name["layer_2.num_filters"].choices == NUM_FILTERS == (24, 36, 48, 64)
    anchor = by_name["layer_2.input_0"]
    assert (anchor.kind, anchor.layer, anchor.source, anchor.choices) == ("skip", 2, 0, (0, 1))
    assert SPACE.size() == (4 * 4 * 4) ** 3 * 2 ** (0 + 1 + 2)
    strided = {d.name: d for d in STRIDED.decisions}
    assert strided["layer_3.stride_height"].choices == strided["layer_3.stride_width"].choices == STRIDES == (1, 2, 3)
    assert STRIDED.size() == (4 * 4 * 3 * 3 * 4) ** 4 * 2 ** (0 + 1 + 2 + 3)


def test_a_deeper_space_extends_a_shallower_one_so_the_curriculum_can_grow_it():
    small, big = ZophLeSpace(num_layers=2, strides=True), ZophLeSpace(num_layers=3, strides=True)
    assert big.decisions[: len(small.decisions)] == small.decisions


def test_text_and_json_round_trip_and_input_order_does_not_matter():
    for space in (SPACE, STRIDED):
        for seed in range(20):
            arch = space.sample(seed)
            assert space.parse(str(arch)) == arch == parse_architecture(space, json.loads(str(arch)))
            assert architecture_from_json(arch.to_json()) == arch
    a = SPACE.parse([layer(3, 5, 24), layer(1, 1, 36), layer(7, 3, 64, inputs=[1, 0])])
    b = SPACE.parse({"layers": [layer(3, 5, 24), layer(1, 1, 36), layer(7, 3, 64, inputs=[0, 1])]})
    assert a == b and SPACE.layers(a)[2].inputs == (0, 1)
    assert json.loads(str(a))[2] == layer(7, 3, 64, inputs=[0, 1])
    assert a.as_dict()["layer_1.input_0"] == 0 and a.as_dict()["layer_2.input_1"] == 1


def test_sec_3_3_rules_image_for_a_layer_without_input_and_unread_outputs_concatenated():
    arch = SPACE.parse([layer(3, 3, 24), layer(5, 5, 36), layer(1, 7, 48, inputs=[1])])
    layers = SPACE.layers(arch)
    assert layers[1].inputs == () and layers[2].inputs == (1,)
    assert SPACE.output_layers(arch) == (0, 2)  # layer 0 is read by nobody, layer 2 is last
    net = ChildNetwork(arch)
    convs = [block[0] for block in net.features.layers]
    assert [c.in_channels for c in convs] == [1, 1, 36]  # layer 1 reads the image
    assert [c.kernel_size for c in convs] == [(3, 3), (5, 5), (1, 7)] and [c.padding for c in convs] == [(1, 1), (2, 2), (0, 3)]
    assert net.classifier.in_features == 24 + 48
    chained = SPACE.parse([layer(3, 3, 24), layer(5, 5, 36, inputs=[0]), layer(1, 7, 48, inputs=[0, 1])])
    assert SPACE.output_layers(chained) == (2,) and ChildNetwork(chained).classifier.in_features == 48
    assert ChildNetwork(chained).features.layers[2][0].in_channels == 24 + 36


def test_concat_padded_zero_pads_smaller_maps_and_keeps_their_values():
    big, small = torch.ones(2, 3, 8, 8), torch.full((2, 5, 3, 6), 2.0)
    out = concat_padded([big, small])
    assert out.shape == (2, 8, 8, 8)
    assert torch.equal(out[:, :3], big)
    assert torch.equal(out[:, 3:, 2:5, 1:7], small)  # 5 rows of padding: 2 above, 3 below; 2 columns: 1 each side
    assert out[:, 3:].sum() == small.sum()  # everything else is zero


def test_strided_inputs_of_different_sizes_are_padded_before_concatenation():
    arch = STRIDED.parse([
        layer(3, 3, 24, sh=2, sw=3),  # 8x8 -> 4x3
        layer(1, 1, 36, sh=1, sw=1),  # reads the image: 8x8
        layer(3, 3, 48, inputs=[0, 1], sh=3, sw=1),  # reads 4x3 padded to 8x8 beside 8x8: -> 3x8
        layer(1, 1, 24, inputs=[2], sh=1, sw=1),
    ])
    net = ChildNetwork(arch)
    shapes = []
    hooks = [block.register_forward_hook(lambda m, i, o: shapes.append((tuple(i[0].shape[1:]), tuple(o.shape[1:]))))
             for block in net.features.layers]
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert shapes == [((1, 8, 8), (24, 4, 3)), ((1, 8, 8), (36, 8, 8)), ((60, 8, 8), (48, 3, 8)), ((48, 3, 8), (24, 3, 8))]
    assert STRIDED.output_layers(arch) == (3,)


def test_a_sampled_child_builds_and_one_training_step_reaches_every_layer():
    data = load_dataset("digits")
    x, y = data.X_train[:32], data.y_train[:32]
    for seed in range(4):
        seed_everything(seed)
        arch = STRIDED.sample(seed)
        net = ChildNetwork(arch, (1, 8, 8), 10)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        assert torch.isfinite(loss)
        # every layer feeds the output: a later layer or the final concatenation (Sec. 3.3)
        assert all(block[0].weight.grad.abs().sum() > 0 for block in net.features.layers), str(arch)
        before = net.features.layers[0][0].weight.detach().clone()
        opt.step()
        assert not torch.equal(before, net.features.layers[0][0].weight)


def test_params_and_flops_match_the_layer_formulas():
    arch = SPACE.parse([layer(3, 5, 24), layer(1, 1, 36, inputs=[0]), layer(7, 3, 48, inputs=[0, 1])])
    net = ChildNetwork(arch)
    convs = [(3, 5, 1, 24), (1, 1, 24, 36), (7, 3, 60, 48)]  # (h, w, C_in, C_out), stride 1 on 8x8
    params = sum(h * w * c_in * c_out + 2 * c_out for h, w, c_in, c_out in convs) + 48 * 10 + 10
    assert count_parameters(net) == params
    flops = sum(2 * h * w * c_in * c_out * 64 for h, w, c_in, c_out in convs) + 2 * 48 * 10
    assert count_flops(net, (1, 8, 8)) == flops


# --- the controller's anchor points ------------------------------------------------------------------------
def test_input_probability_is_the_papers_attention_sigmoid():
    """P(layer j is an input to layer i) = sigmoid(v^T tanh(W_prev h_j + W_curr h_i)) (Sec. 3.3)."""
    seed_everything(0)
    ctrl = LSTMController(STRIDED, hidden_size=16, tanh_constant=None, temperature=1.0)
    with torch.no_grad():
        for p in ctrl.parameters():
            p.mul_(8.0)  # far from uniform, so a wrong anchor or a wrong sign shows
    sample = ctrl.sample(6)
    out = ctrl(sample.indices)
    decisions = STRIDED.decisions
    last_of_layer = {d.layer: t for t, d in enumerate(decisions) if d.kind == "categorical"}
    checked = 0
    for t, d in enumerate(decisions):
        if d.kind != "skip":
            continue
        assert str(t) not in ctrl.heads
        h_j, h_i = out.hidden[:, last_of_layer[d.source]], out.hidden[:, t]
        v, W_prev, W_curr = ctrl.v_attn.weight[0], ctrl.w_prev.weight, ctrl.w_curr.weight
        expected = torch.sigmoid(torch.tanh(h_j @ W_prev.T + h_i @ W_curr.T) @ v)
        torch.testing.assert_close(out.logits[t].softmax(-1)[:, 1], expected)
        checked += 1
    assert checked == 6


# --- search, drawing, export, CLI ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["reinforce", "ppo", "a2c", "trpo", "sac", "random", "evolution", "ucb", "thompson"])
def test_searches_run_on_the_space(method, tmp_path):
    search = make_search(method, "zoph-le", "digits", budget=2, batch_size=2, epochs=1, max_samples=120,
                         device="cpu", out_dir=tmp_path / method)
    search.run()
    assert len(search.history) == 2
    assert all(ZophLeSpace().parse(r["arch"]) in ZophLeSpace() for r in search.history)


@pytest.mark.parametrize("method", ["enas", "random_ws"])
def test_weight_sharing_searches_run_on_the_space(method, tmp_path):
    search = make_search(method, "zoph-le", "digits", budget=4, batch_size=2, max_samples=120, device="cpu",
                         out_dir=tmp_path / method)
    search.run()
    assert len(search.history) == 4 and all(0.0 <= r["val_accuracy"] <= 1.0 for r in search.history)


def test_curriculum_grows_the_zoph_le_space():
    from nasrl_nb.strategies.curriculum import CurriculumStrategy
    strategy = CurriculumStrategy(ZophLeSpace(num_layers=3), start_layers=1, grow_every=2)
    assert strategy.propose(2)[0].space == ZophLeSpace(num_layers=1)
    strategy.observe(strategy.propose(2), [{"val_accuracy": 0.5}] * 2, [0.5, 0.5])
    assert strategy.propose(2)[0].space == ZophLeSpace(num_layers=2)


def test_drawing_shows_inputs_image_and_final_concatenation():
    from nasrl_nb.viz.drawing import architecture_graph, draw_architecture, legend_labels
    arch = SPACE.parse([layer(3, 3, 24), layer(5, 5, 36), layer(1, 7, 48, inputs=[0])])
    graph = architecture_graph(arch)
    edges = {(s, t, op) for s, t, op in graph.edges(data="op")}
    assert edges == {("input", "layer0", "sequential"), ("input", "layer1", "image"), ("layer0", "layer2", "skip"),
                     ("layer1", "output", "concat"), ("layer2", "output", "sequential")}
    assert graph.nodes["layer2"]["label"].startswith("2: 1x7 conv\n48 filters")
    fig = draw_architecture(arch)
    assert set(legend_labels(fig)) == {"image", "skip", "concat", "conv3x3_bn_relu", "conv5x5_bn_relu", "conv1x7_bn_relu"}


def test_supernet_drawing_highlights_the_chosen_inputs_image_and_concatenation():
    from nasrl_nb.viz.enas_plots import draw_supernet, highlighted
    arch = SPACE.parse([layer(3, 3, 24), layer(5, 5, 36), layer(1, 7, 48, inputs=[0])])
    assert set(highlighted(draw_supernet(arch))) == {
        "layer0:conv3x3_bn_relu", "layer1:conv5x5_bn_relu", "layer2:conv1x7_bn_relu",
        "image->0", "image->1", "input0->2", "concat1", "concat2"}


def test_export_computes_what_the_child_computes():
    for space in (SPACE, STRIDED):
        for seed in range(4):
            arch = space.sample(seed)
            seed_everything(seed)
            child = ChildNetwork(arch).eval()
            namespace = {}
            exec(compile(standalone_source(arch), "exported", "exec"), namespace)
            net = namespace["ExportedNet"]().eval()
            net.load_child_state_dict(child.state_dict())
            x = torch.randn(3, 1, 8, 8)
            torch.testing.assert_close(net(x), child(x), rtol=0, atol=1e-6)


def test_cli_lists_and_trains_the_space(capsys):
    assert cli_main.main(["spaces", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["zoph-le"]["size"] == SPACE.size()
    arch = json.dumps([layer(3, 3, 24), layer(1, 1, 24, inputs=[0]), layer(3, 1, 24, inputs=[0, 1])])
    code = cli_main.main(["train", "--space", "zoph-le", "--arch", arch, "--epochs", "1", "--max-samples", "200", "--device", "cpu"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["status"] == "ok" and record["space"] == "zoph-le"
    assert record["params"] == count_parameters(ChildNetwork(SPACE.parse(arch)))


# --- bad inputs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"num_layers": 0}, r"^num_layers: must be a positive integer, got 0$"),
    ({"strides": "yes"}, r"^strides: 'yes' is not allowed; allowed values: True, False$"),
    ({"depth": 3}, r"^space 'zoph-le': unknown options \['depth'\]; allowed keys: \['num_layers', 'strides'\]$"),
])
def test_bad_space_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_space("zoph-le", **kwargs)


@pytest.mark.parametrize("rows, message", [
    ("[{", r"^arch: not valid JSON for the zoph-le space"),
    ([layer(3, 3, 24)], r"^arch: expected 3 layers for this zoph-le space, got 1$"),
    ([layer(3, 3, 24), layer(3, 3, 24), {"filter_height": 3, "filter_width": 3}],
     r"^arch layer 2: missing 'num_filters'; allowed values: 24, 36, 48, 64$"),
    ([layer(3, 3, 24), layer(3, 3, 24), layer(3, 3, 24, sh=1, sw=1)],
     r"^arch layer 2: unknown keys \['stride_height', 'stride_width'\]; allowed keys: "),
    ([layer(3, 3, 24), layer(3, 3, 24, inputs=[1]), layer(3, 3, 24)],
     r"^arch layer 1: inputs must list distinct layer indices in 0..0, got \[1\]$"),
    ([layer(3, 3, 24, inputs=[0]), layer(3, 3, 24), layer(3, 3, 24)],
     r"^arch layer 0: inputs must list none \(an empty list: layer 0 reads the image\), got \[0\]$"),
    ([layer(3, 3, 24), layer(3, 3, 24), layer(3, 3, 24, inputs=[0, 0])], r"^arch layer 2: inputs must list distinct"),
    ([layer(3, 3, 24), layer(3, 3, 24), layer(3, 3, 24, inputs=[True])], r"^arch layer 2: inputs must list distinct"),
    ([layer(3, 3, 24), layer(2, 3, 24), layer(3, 3, 24)], r"^layer_1.filter_height: 2 is not allowed; allowed values: 1, 3, 5, 7$"),
    ([layer(3, 3, 24), layer(3, 3, 32), layer(3, 3, 24)], r"^layer_1.num_filters: 32 is not allowed; allowed values: 24, 36, 48, 64$"),
    ([layer(True, 3, 24), layer(3, 3, 24), layer(3, 3, 24)], r"^arch layer 0: filter_height True is not allowed; allowed values: 1, 3, 5, 7$"),
])
def test_bad_architectures(rows, message):
    text = rows if isinstance(rows, str) else json.dumps(rows)
    with pytest.raises(ValueError, match=message):
        SPACE.parse(text)


def test_bad_stride_and_cli_space(capsys):
    with pytest.raises(ValueError, match=r"^layer_0.stride_height: 4 is not allowed; allowed values: 1, 2, 3$"):
        STRIDED.parse([layer(3, 3, 24, sh=4, sw=1)] + [layer(3, 3, 24, sh=1, sw=1)] * 3)
    assert cli_main.main(["train", "--space", "zoph_le", "--arch", "[]"]) == 2
    assert "invalid choice: 'zoph_le' (choose from 'macro', 'cell', 'darts', 'zoph-le')" in capsys.readouterr().err
    assert cli_main.main(["train", "--space", "zoph-le", "--arch", "[]"]) == 2
    assert "error: arch: expected 3 layers for this zoph-le space, got 0" in capsys.readouterr().err
