"""The reference implementation of DARTS: quark0/darts's search code, re-implemented plainly (Liu et al., ICLR 2019).

This is DARTS as its authors' code (github.com/quark0/darts, ``cnn/operations.py``,
``model_search.py``, ``architect.py``) computes it, without CUDA, global ``args`` or star
imports, so that a reader can set it beside the package's fast version:

* :class:`RefMixedOp` is the mixed op of Eq. 2 in one line,
  ``sum(w * op(x) for w, op in zip(weights, self._ops))``, over all 8 ops, ``none`` included (a
  :class:`Zero` module whose zeros are multiplied by their weight); pools are followed by
  ``BatchNorm2d(affine=False)`` and every BatchNorm is ``affine=False``. The package's twin:
  :class:`~nasrl_nb.darts.mixed_op.MixedOp` (and its fast twin
  :class:`~nasrl_nb.darts.mixed_op.FusedMixedOp`);
* :class:`RefNetwork` is the search network (stem, cells with reductions at 1/3 and 2/3,
  global pooling, classifier; the alphas plain tensors, as there). The package's twin:
  :class:`~nasrl_nb.darts.supernet.DartsSupernet`;
* :class:`RefArchitect` is the bilevel architecture step (Sec. 2.3, Eq. 6-8). First order:
  ``loss_val.backward()``, which fills the gradients of every weight as well as of the alphas.
  Second order: the unrolled model ``w' = w - xi (mu m + grad_w L_train + lambda w)`` is a *new
  network* (``model.new()``, built and initialised from scratch, then ``load_state_dict``), on
  which ``loss_val.backward()`` runs; the Hessian-vector product (Eq. 8) moves ``p.data`` in
  place. The package's twin: :class:`~nasrl_nb.darts.architect.BilevelOptimizer` with
  ``virtual_step="reference"``; ``tests/darts/test_darts_reference.py`` checks that both take the same
  step on the same weights and batches, first and second order.

Two switches of :class:`RefArchitect` and one of :class:`RefNetwork` (all off by default: the
reference) apply the changes that ``benchmarks/darts_step.py`` measures one at a time:
``compute_none=False`` (``none`` neither built nor run), ``alpha_grad=True`` (each pass asks
autograd for the gradient it needs only), ``in_place=True`` (the unrolled weights written into
the network itself instead of a second network) and ``channels_last=True`` (the input made
channels-last).

The hyperparameters are ``train_search.py``'s defaults (:data:`W_LR` ... :data:`A_WD`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces.darts_space import RELAXED_OPS

# the reference hyperparameters (train_search.py): weights' SGD, gradient clip, alphas' Adam
W_LR, W_MOMENTUM, W_WD, GRAD_CLIP, A_LR, A_WD = 0.025, 0.9, 3e-4, 5.0, 3e-4, 1e-3


# --- the reference code's ops (operations.py), affine=False as in model_search.py ----------------
class ReLUConvBN(nn.Sequential):
    def __init__(self, C_in, C_out, k, stride, padding, affine):
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(C_in, C_out, k, stride, padding, bias=False),
                         nn.BatchNorm2d(C_out, affine=affine))


class DilConv(nn.Sequential):
    def __init__(self, C_in, C_out, k, stride, padding, dilation, affine):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(C_in, C_in, k, stride, padding, dilation=dilation, groups=C_in, bias=False),
                         nn.Conv2d(C_in, C_out, 1, bias=False), nn.BatchNorm2d(C_out, affine=affine))


class SepConv(nn.Sequential):
    def __init__(self, C_in, C_out, k, stride, padding, affine):
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(C_in, C_in, k, stride, padding, groups=C_in, bias=False),
                         nn.Conv2d(C_in, C_in, 1, bias=False), nn.BatchNorm2d(C_in, affine=affine),
                         nn.ReLU(inplace=False), nn.Conv2d(C_in, C_in, k, 1, padding, groups=C_in, bias=False),
                         nn.Conv2d(C_in, C_out, 1, bias=False), nn.BatchNorm2d(C_out, affine=affine))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x.mul(0.0) if self.stride == 1 else x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    def __init__(self, C_in, C_out, affine):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


REF_OPS = {
    "none": lambda C, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": lambda C, stride, affine: nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine),
}


# --- the reference code's search network (model_search.py) -----------------------------------------
class RefMixedOp(nn.Module):
    """Eq. 2: ``sum_k weights[k] * op_k(x)`` over the 8 DARTS ops (``model_search.py``'s ``MixedOp``)."""

    def __init__(self, C, stride, compute_none: bool = True):
        super().__init__()
        self.index = [k for k, name in enumerate(RELAXED_OPS) if compute_none or name != "none"]
        self._ops = nn.ModuleList()
        for k in self.index:
            op = REF_OPS[RELAXED_OPS[k]](C, stride, False)
            if "pool" in RELAXED_OPS[k]:
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)

    def forward(self, x, weights):
        # quark0: sum(w * op(x) for w, op in zip(weights, self._ops)); index skips `none` when it is not built
        return sum(weights[k] * op(x) for k, op in zip(self.index, self._ops))


class RefCell(nn.Module):
    """A search cell: ``steps`` nodes, each the sum of a mixed op on every earlier state; output their concat."""

    def __init__(self, steps, multiplier, C_pp, C_p, C, reduction, reduction_prev, compute_none):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(C_pp, C, False) if reduction_prev else ReLUConvBN(C_pp, C, 1, 1, 0, False)
        self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0, False)
        self._steps, self._multiplier = steps, multiplier
        self._ops = nn.ModuleList()
        for i in range(steps):
            for j in range(2 + i):
                self._ops.append(RefMixedOp(C, 2 if reduction and j < 2 else 1, compute_none))

    def forward(self, s0, s1, weights):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self._steps):
            s = sum(self._ops[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier:], dim=1)


class RefNetwork(nn.Module):
    """The search network (``model_search.py``'s ``Network``): stem, ``layers`` cells, pooling, classifier."""

    def __init__(self, C, num_classes, layers, steps=4, multiplier=4, stem_multiplier=3, in_channels=3, compute_none=True,
                 channels_last=False):
        super().__init__()
        self._args = (C, num_classes, layers, steps, multiplier, stem_multiplier, in_channels, compute_none, channels_last)
        self.channels_last = channels_last  # not in the reference code: the reference-cl variant
        self._criterion = nn.CrossEntropyLoss()
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_pp, C_p, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            self.cells.append(RefCell(steps, multiplier, C_pp, C_p, C_curr, reduction, reduction_prev, compute_none))
            reduction_prev = reduction
            C_pp, C_p = C_p, multiplier * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_p, num_classes)
        k = sum(2 + i for i in range(steps))
        self.alphas_normal = (1e-3 * torch.randn(k, len(RELAXED_OPS))).requires_grad_(True)  # plain tensors, as there
        self.alphas_reduce = (1e-3 * torch.randn(k, len(RELAXED_OPS))).requires_grad_(True)

    def new(self):
        model_new = RefNetwork(*self._args)
        for x, y in zip(model_new.arch_parameters(), self.arch_parameters(), strict=True):
            x.data.copy_(y.data)
        return model_new

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            weights = F.softmax(self.alphas_reduce if cell.reduction else self.alphas_normal, dim=-1)
            s0, s1 = s1, cell(s0, s1, weights)
        return self.classifier(self.global_pooling(s1).view(s1.size(0), -1))

    def _loss(self, x, y):
        return self._criterion(self(x), y)

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def weight_parameters(self):
        """Every weight (not in the reference code: what :class:`~nasrl_nb.darts.architect.BilevelOptimizer` steps)."""
        return list(self.parameters())  # the alphas are plain tensors, not parameters of the module


def _concat(xs):
    return torch.cat([x.reshape(-1) for x in xs])


class RefArchitect:
    """``architect.py``: the architecture step, first order or unrolled (second order, Eq. 6-8).

    ``step(train, val, eta, network_optimizer, unrolled)`` leaves ``grad_alpha`` in the alphas'
    ``.grad`` and steps them with Adam; ``eta`` is the weights' learning rate (``xi``) and
    ``network_optimizer`` the weights' SGD, whose momentum buffers the unrolled step reads.
    ``alpha_grad`` and ``in_place`` are ``benchmarks/darts_step.py``'s changes 2 and 3 (off: the reference).
    """

    def __init__(self, model, *, alpha_grad=False, in_place=False):
        self.model, self.alpha_grad, self.in_place = model, alpha_grad, in_place
        self.optimizer = torch.optim.Adam(model.arch_parameters(), lr=A_LR, betas=(0.5, 0.999), weight_decay=A_WD)

    def step(self, train, val, eta, network_optimizer, unrolled):
        self.optimizer.zero_grad()
        if unrolled:
            self._backward_step_unrolled(train, val, eta, network_optimizer)
        elif self.alpha_grad:
            for a, g in zip(self.model.arch_parameters(), torch.autograd.grad(self.model._loss(*val), self.model.arch_parameters()), strict=True):
                a.grad = g
        else:
            self.model._loss(*val).backward()
        self.optimizer.step()

    def _unrolled_theta(self, train, eta, network_optimizer):
        params = list(self.model.parameters())
        loss = self.model._loss(*train)
        theta = _concat(params).data
        try:
            moment = _concat(network_optimizer.state[v]["momentum_buffer"] for v in params).mul_(W_MOMENTUM)
        except KeyError:
            moment = torch.zeros_like(theta)
        dtheta = _concat(torch.autograd.grad(loss, params)).data + W_WD * theta
        return theta.sub(moment + dtheta, alpha=eta)

    def _backward_step_unrolled(self, train, val, eta, network_optimizer):
        theta = self._unrolled_theta(train, eta, network_optimizer)
        if self.in_place:  # change 3: w' written into the network itself, w put back afterwards
            params = list(self.model.parameters())
            saved = [p.detach().clone() for p in params]
            offset = 0
            with torch.no_grad():
                for p in params:
                    p.copy_(theta[offset: offset + p.numel()].view_as(p))
                    offset += p.numel()
            grads = torch.autograd.grad(self.model._loss(*val), self.model.arch_parameters() + params)
            dalpha, vector = list(grads[:2]), [g.detach() for g in grads[2:]]
            with torch.no_grad():
                for p, s in zip(params, saved, strict=True):
                    p.copy_(s)
        else:
            unrolled_model = self._construct_model_from_theta(theta)
            unrolled_model._loss(*val).backward()
            dalpha = [v.grad for v in unrolled_model.arch_parameters()]
            vector = [v.grad.data for v in unrolled_model.parameters()]
        implicit_grads = self._hessian_vector_product(vector, train)
        for g, ig in zip(dalpha, implicit_grads, strict=True):
            g.data.sub_(ig.data, alpha=eta)
        for v, g in zip(self.model.arch_parameters(), dalpha, strict=True):
            v.grad = g.data.clone()

    def _construct_model_from_theta(self, theta):
        model_new = self.model.new()
        model_dict = self.model.state_dict()
        params, offset = {}, 0
        for k, v in self.model.named_parameters():
            params[k] = theta[offset: offset + v.numel()].view(v.size())
            offset += v.numel()
        model_dict.update(params)
        model_new.load_state_dict(model_dict)
        return model_new

    def _hessian_vector_product(self, vector, train, r=1e-2):
        R = r / _concat(vector).norm()
        params = list(self.model.parameters())
        for p, v in zip(params, vector, strict=True):
            p.data.add_(v, alpha=float(R))
        grads_p = torch.autograd.grad(self.model._loss(*train), self.model.arch_parameters())
        for p, v in zip(params, vector, strict=True):
            p.data.sub_(v, alpha=float(2 * R))
        grads_n = torch.autograd.grad(self.model._loss(*train), self.model.arch_parameters())
        for p, v in zip(params, vector, strict=True):
            p.data.add_(v, alpha=float(R))
        return [(x - y).div_(2 * R) for x, y in zip(grads_p, grads_n, strict=True)]


def search_iteration(model, architect: RefArchitect, w_optimizer, train, val, unrolled: bool) -> list[torch.Tensor]:
    """One iteration of ``train_search.py``'s loop (Algorithm 1): the architecture step on the
    validation batch, then the weight step (clipped SGD) on the training batch.

    Returns ``grad_alpha`` as the architecture step left it (cloned: the weight step's backward
    adds to the alphas' ``.grad``); None for an alpha without one. ``w_optimizer`` is the
    weights' SGD at :data:`W_LR`; with the architect's ``alpha_grad`` the weight step, too,
    asks autograd for the weights' gradients only.
    """
    architect.step(train, val, W_LR, w_optimizer, unrolled=unrolled)
    grad_alpha = [None if a.grad is None else a.grad.clone() for a in model.arch_parameters()]
    w_optimizer.zero_grad()
    loss = model._loss(*train)
    if architect.alpha_grad:
        loss.backward(inputs=list(model.parameters()))
    else:
        loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    w_optimizer.step()
    return grad_alpha
