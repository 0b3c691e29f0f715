"""check_hessian_vector_product (notebook 08): every exact form passes, the usual mistakes get their hint."""

from __future__ import annotations

import pytest
import torch

from nasrl_nb.checks import check_hessian_vector_product
from nasrl_nb.darts.architect import finite_difference_hvp
from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet
from nasrl_nb.spaces.registry import get_space

CE = torch.nn.functional.cross_entropy


def _fails(result, *needles: str) -> None:
    assert not result and result.passed is False, result.message
    for needle in needles:
        assert needle.lower() in result.message.lower(), result.message


@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    net = RelaxedCellSupernet(get_space("cell"), (1, 8, 8), 10, channels=2)
    g = torch.Generator().manual_seed(1)
    batch = (torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g))
    v = [torch.randn(p.shape, generator=g) for p in net.weight_parameters()]
    return net, batch, v


def _exact(net, batch, v):
    W, A = list(net.weight_parameters()), list(net.arch_parameters())
    grad_w = torch.autograd.grad(CE(net(batch[0]), batch[1]), W, create_graph=True)
    return torch.autograd.grad(sum((gw * t).sum() for gw, t in zip(grad_w, v)), A)


def test_exact_products_pass_in_several_forms(problem):
    net, batch, v = problem
    exact = _exact(net, batch, v)
    assert check_hessian_vector_product(net, batch, v, list(exact))
    assert check_hessian_vector_product(net, batch, v, exact[0])  # one alpha tensor: the tensor itself
    W, A = list(net.weight_parameters()), list(net.arch_parameters())
    grad_w = torch.autograd.grad(CE(net(batch[0]), batch[1]), W, create_graph=True)
    vjp = torch.autograd.grad(grad_w, A, grad_outputs=v)  # the same product as a vector-Jacobian product
    assert check_hessian_vector_product(net, batch, v, vjp)
    assert check_hessian_vector_product(net, batch, v, [exact[0].numpy().tolist()])  # nested lists


def test_a_fine_central_difference_in_float64_passes():
    torch.manual_seed(0)
    net = RelaxedCellSupernet(get_space("cell"), (1, 8, 8), 10, channels=2).double()
    g = torch.Generator().manual_seed(1)
    batch = (torch.randn(8, 1, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 10, (8,), generator=g))
    v = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in net.weight_parameters()]
    fine, _ = finite_difference_hvp(net, CE, batch, list(net.weight_parameters()), list(net.arch_parameters()), v, r=1e-5)
    assert check_hessian_vector_product(net, batch, v, fine)


def test_the_usual_mistakes_get_their_hint(problem):
    net, batch, v = problem
    W, A = list(net.weight_parameters()), list(net.arch_parameters())
    exact = _exact(net, batch, v)
    _fails(check_hessian_vector_product(net, batch, v, [-exact[0]]), "sign")
    grad_alpha = torch.autograd.grad(CE(net(batch[0]), batch[1]), A)
    _fails(check_hessian_vector_product(net, batch, v, grad_alpha), "grad_alpha L itself")
    estimate, _ = finite_difference_hvp(net, CE, batch, W, A, v)  # the paper's r = 0.01: far off here
    _fails(check_hessian_vector_product(net, batch, v, estimate), "finite-difference", "double backward")
    grad_w = torch.autograd.grad(CE(net(batch[0]), batch[1]), W, create_graph=True)
    hessian_w = torch.autograd.grad(sum((gw * t).sum() for gw, t in zip(grad_w, v)), W)  # H_ww v
    _fails(check_hessian_vector_product(net, batch, v, hessian_w), "shaped like the weights")
    _fails(check_hessian_vector_product(net, batch, v, None), "one tensor per alpha")
    _fails(check_hessian_vector_product(net, batch, v, torch.zeros(3, 5)), "one tensor per alpha")
    _fails(check_hessian_vector_product(net, batch, v, [2 * exact[0]]), "create_graph=True")


def test_the_check_leaves_the_net_as_it_was(problem):
    net, batch, v = problem
    state = {k: t.clone() for k, t in net.state_dict().items()}
    check_hessian_vector_product(net, batch, v, None)
    assert all(torch.equal(state[k], t) for k, t in net.state_dict().items())


def test_v_must_match_the_weights(problem):
    net, batch, v = problem
    with pytest.raises(ValueError, match="v: expected one tensor per weight tensor"):
        check_hessian_vector_product(net, batch, v[:-1], None)
