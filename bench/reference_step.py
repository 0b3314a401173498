#!/usr/bin/python3
"""The reference's TRM-MLP training step, in eager PyTorch, to time against bench_model.

The issue's speed targets are ratios to the reference implementation (SamsungSAILMontreal/
TinyRecursiveModels) on the same machine. That repository cannot be fetched here, so this file
re-writes its training step op for op, as ../shared/TRM-SPEC.md describes it and in the
reference's own style: CastedLinear (F.linear), SwiGLU as `gate_up_proj(x).chunk(2)` then
`down_proj(F.silu(gate) * up)`, rms_norm in float32 with rsqrt, the token-MLP on a transposed
view, the no-grad T-1 cycles and the full back-propagation of the last one, the ACT carry reset
with torch.where, the stable-max cross-entropy in float64 and the summed BCE halting loss, then
AdamATan2 (its published rule) and the sparse sign-SGD of the puzzle table.

`--check FIXTURE.pt` first proves that this is the reference's arithmetic: from the fixture's
weights and batch it recomputes supervision step 1 (logits, the q logits, the total loss) and
every gradient, and compares them with the reference's own tensors at the fixture README's
tolerances (2e-4 at step 1, gradients 1e-4 of each tensor's max). Debian's python3-torch is the
fixtures' own PyTorch (1.13.0a0) on the same OpenBLAS as LibTorch.

Usage: reference_step.py [--check ../shared/fixtures/mlp.pt] [--threads 2] [--seconds 20]
                         [--only TEXT]
Prints one Markdown row per config: examples/s, step ms, GFLOP/s (matmuls only, the count of
core/cost_model: 2·m·k·n forward, twice that backward, for the back-propagated evaluations).
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def swiglu_inter(h, expansion=4.0):
    inter = round(expansion * h * 2 / 3)
    return (inter + 255) // 256 * 256


def rms_norm(h, eps):
    dtype = h.dtype
    h = h.to(torch.float32)
    variance = h.square().mean(-1, keepdim=True)
    return (h * torch.rsqrt(variance + eps)).to(dtype)


class CastedLinear(nn.Module):
    def __init__(self, fan_in, fan_out, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in) / math.sqrt(fan_in))
        self.bias = nn.Parameter(torch.zeros(fan_out)) if bias else None

    def forward(self, x):
        b = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), b)


class SwiGLU(nn.Module):
    def __init__(self, hidden, expansion=4.0):
        super().__init__()
        inter = swiglu_inter(hidden, expansion)
        self.gate_up_proj = CastedLinear(hidden, 2 * inter)
        self.down_proj = CastedLinear(inter, hidden)

    def forward(self, x):
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    """The token-MLP block: post-norm, mixing the positions then the channels."""

    def __init__(self, c):
        super().__init__()
        self.eps = c["rms_norm_eps"]
        self.mlp_t = SwiGLU(c["puzzle_emb_len"] + c["seq_len"], c["expansion"])
        self.mlp = SwiGLU(c["hidden_size"], c["expansion"])

    def forward(self, h):
        h = h.transpose(1, 2)
        h = rms_norm(h + self.mlp_t(h), self.eps)
        h = h.transpose(1, 2)
        return rms_norm(h + self.mlp(h), self.eps)


class ReasoningModule(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([Block(c) for _ in range(c["L_layers"])])

    def forward(self, h, injection):
        h = h + injection
        for layer in self.layers:
            h = layer(h)
        return h


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        D = c["hidden_size"]
        self.embed_scale = math.sqrt(D)
        self.embed_tokens_weight = nn.Parameter(torch.randn(c["vocab_size"], D) / math.sqrt(D))
        self.lm_head = CastedLinear(D, c["vocab_size"])
        self.q_head = CastedLinear(D, 2, bias=True)
        self.puzzle_table = torch.randn(c["num_puzzle_identifiers"], c["puzzle_emb_ndim"]) * 0.02
        self.puzzle_local = torch.zeros(c["batch_size"], c["puzzle_emb_ndim"], requires_grad=True)
        self.L_level = ReasoningModule(c)
        self.H_init = torch.randn(D)
        self.L_init = torch.randn(D)

    def input_embeddings(self, inputs, ids):
        c = self.c
        emb = F.embedding(inputs.to(torch.int32), self.embed_tokens_weight)
        with torch.no_grad():  # CastedSparseEmbedding, training: the batch's rows as a leaf
            self.puzzle_local.copy_(self.puzzle_table[ids.to(torch.int64)])
        pad = c["puzzle_emb_len"] * c["hidden_size"] - self.puzzle_local.shape[-1]
        puzzle = F.pad(self.puzzle_local, (0, pad)).view(-1, c["puzzle_emb_len"], c["hidden_size"])
        return self.embed_scale * torch.cat((puzzle, emb), dim=-2)

    def forward(self, z_H, z_L, inputs, ids):
        c = self.c
        x = self.input_embeddings(inputs, ids)
        with torch.no_grad():
            for _ in range(c["H_cycles"] - 1):
                for _ in range(c["L_cycles"]):
                    z_L = self.L_level(z_L, z_H + x)
                z_H = self.L_level(z_H, z_L)
        for _ in range(c["L_cycles"]):
            z_L = self.L_level(z_L, z_H + x)
        z_H = self.L_level(z_H, z_L)
        logits = self.lm_head(z_H)[:, c["puzzle_emb_len"]:]
        q = self.q_head(z_H[:, 0]).to(torch.float32)
        return z_H.detach(), z_L.detach(), logits, q[..., 0], q[..., 1]


def stablemax_cross_entropy(logits, labels, ignore_index=-100):
    x = logits.to(torch.float64)
    s = torch.where(x < 0, 1 / (1 - x), x + 1)
    logprobs = torch.log(s / s.sum(dim=-1, keepdim=True))
    valid = labels != ignore_index
    safe = torch.where(valid, labels, 0).to(torch.int64)
    pred = torch.gather(logprobs, -1, safe.unsqueeze(-1)).squeeze(-1)
    return -torch.where(valid, pred, 0)


class Trainer:
    """One training step as `train_batch` runs it: carry reset, one supervision step, the loss
    head, backward, AdamATan2 and the puzzle table's sign-SGD."""

    def __init__(self, c):
        self.c = c
        self.model = Inner(c)
        self.params = [p for p in self.model.parameters()]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        B, S, D = c["batch_size"], c["puzzle_emb_len"] + c["seq_len"], c["hidden_size"]
        self.z_H = torch.zeros(B, S, D)
        self.z_L = torch.zeros(B, S, D)
        self.steps = torch.zeros(B, dtype=torch.int32)
        self.halted = torch.ones(B, dtype=torch.bool)
        self.data = None

    def supervision_step(self, batch):
        c = self.c
        reset = self.halted.view(-1, 1, 1)
        self.z_H = torch.where(reset, self.model.H_init, self.z_H)
        self.z_L = torch.where(reset, self.model.L_init, self.z_L)
        self.steps = torch.where(self.halted, 0, self.steps)
        if self.data is None:
            self.data = {k: v.clone() for k, v in batch.items()}
        else:
            for k in self.data:
                h = self.halted.view((-1,) + (1,) * (batch[k].dim() - 1))
                self.data[k] = torch.where(h, batch[k], self.data[k])
        self.z_H, self.z_L, logits, q_halt, q_cont = self.model(
            self.z_H, self.z_L, self.data["inputs"], self.data["puzzle_identifiers"])
        with torch.no_grad():
            self.steps = self.steps + 1
            halted = self.steps >= c["halt_max_steps"]
            self.halted = halted | (q_halt > 0)
        labels = self.data["labels"]
        mask = labels != -100
        counts = mask.sum(-1)
        divisor = counts.clamp_min(1).unsqueeze(-1)
        with torch.no_grad():
            correct = mask & (torch.argmax(logits, dim=-1) == labels)
            seq_correct = correct.sum(-1) == counts
        lm_loss = (stablemax_cross_entropy(logits, labels) / divisor).sum()
        q_halt_loss = F.binary_cross_entropy_with_logits(
            q_halt, seq_correct.to(q_halt.dtype), reduction="sum")
        total = lm_loss + 0.5 * q_halt_loss
        return logits, q_halt, q_cont, total

    def optimizer_step(self, lr=1e-4, wd=0.1, b1=0.9, b2=0.95, emb_lr=1e-4, emb_wd=1.0):
        self.t += 1
        bc1 = 1 - b1 ** self.t
        bc2 = 1 - b2 ** self.t
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                g = p.grad
                p.mul_(1 - lr * wd)
                m.lerp_(g, 1 - b1)
                v.lerp_(g.square(), 1 - b2)
                p.add_(torch.atan2(m, v.sqrt() / math.sqrt(bc2)), alpha=-lr / bc1)
                p.grad = None
            ids = self.data["puzzle_identifiers"].to(torch.int64)
            grad = self.model.puzzle_local.grad
            uniq, inv = torch.unique(ids, return_inverse=True)
            summed = torch.zeros(uniq.shape[0], grad.shape[-1]).index_add_(0, inv, grad)
            table = self.model.puzzle_table
            table[uniq] = table[uniq] * (1 - emb_lr * emb_wd) - emb_lr * torch.sign(summed)
            self.model.puzzle_local.grad = None

    def train_step(self, batch):
        _, _, _, total = self.supervision_step(batch)
        (total / self.c["batch_size"]).backward()
        self.optimizer_step()


def check(path):
    """Step 1 of the fixture, recomputed here, against the reference's tensors."""
    f = torch.load(path)
    cfg = {k.split("/", 1)[1]: v.item() for k, v in f.items() if k.startswith("config/")}
    if not cfg["mlp_t"]:
        sys.exit(f"{path}: --check takes a token-MLP fixture (mlp_t true)")
    trainer = Trainer(cfg)
    model = trainer.model
    prefix = "param/model.inner."
    with torch.no_grad():
        model.embed_tokens_weight.copy_(f[prefix + "embed_tokens.embedding_weight"])
        model.puzzle_table = f[prefix + "puzzle_emb.weights"].clone()
        model.H_init = f[prefix + "H_init"].clone()
        model.L_init = f[prefix + "L_init"].clone()
        for name, p in model.named_parameters():
            key = {"embed_tokens_weight": "embed_tokens.embedding_weight"}.get(name, name)
            p.copy_(f[prefix + key])
    batch = {k: f["batch/" + k] for k in ("inputs", "labels", "puzzle_identifiers")}
    logits, q_halt, q_cont, total = trainer.supervision_step(batch)
    (total / cfg["global_batch_size"]).backward()
    failures = []

    def compare(name, got, want, tol):
        err = (got.double() - want.double()).abs().max().item()
        scale = max(want.double().abs().max().item(), 1e-30)
        ok = err <= tol * scale
        print(f"{'ok  ' if ok else 'FAIL'} {name}: max |diff| {err:.3g} = {err / scale:.2g} of max")
        if not ok:
            failures.append(name)

    compare("step1/logits", logits, f["step1/logits"], 2e-4)
    compare("step1/q_halt_logits", q_halt, f["step1/q_halt_logits"], 2e-4)
    compare("step1/q_continue_logits", q_cont, f["step1/q_continue_logits"], 2e-4)
    compare("step1/total_loss", total, f["step1/total_loss"], 1e-5)
    for name, p in model.named_parameters():
        key = {"embed_tokens_weight": "embed_tokens.embedding_weight"}.get(name, name)
        compare("grad/" + key, p.grad, f["grad/model.inner." + key], 1e-4)
    compare("grad/puzzle_emb.local_weights", model.puzzle_local.grad,
            f["grad/model.inner.puzzle_emb.local_weights"], 1e-4)
    if failures:
        sys.exit(f"{path}: {len(failures)} tensors differ from the reference's")
    print(f"{path}: step 1 and every gradient equal the reference's\n")


def step_gflop(c, B):
    """Matmul FLOPs of one training step, as core/cost_model counts them."""
    S, D = c["puzzle_emb_len"] + c["seq_len"], c["hidden_size"]
    i_t, i_c = swiglu_inter(S, c["expansion"]), swiglu_inter(D, c["expansion"])
    block = 2 * B * D * (S * 2 * i_t + i_t * S) + 2 * B * S * (D * 2 * i_c + i_c * D)
    evals = c["H_cycles"] * (c["L_cycles"] + 1)
    grad_evals = c["L_cycles"] + 1
    layers = c["L_layers"]
    heads = 2 * B * S * D * c["vocab_size"] + 2 * B * D * 2
    return (evals * layers * block + 2 * grad_evals * layers * block + 3 * heads) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", help="a token-MLP fixture (.pt) to verify the step against first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        check(args.check)
    torch.manual_seed(0)
    base = dict(seq_len=81, vocab_size=11, num_puzzle_identifiers=1, puzzle_emb_len=16,
                expansion=4.0, L_layers=2, rms_norm_eps=1e-5, halt_max_steps=16, mlp_t=True)
    full = dict(base, hidden_size=512, puzzle_emb_ndim=512, H_cycles=3, L_cycles=6)
    small = dict(base, hidden_size=128, puzzle_emb_ndim=128, H_cycles=2, L_cycles=2)
    print(f"torch {torch.__version__}, threads {args.threads}")
    print("| config | batch | examples/s | step ms | GFLOP/step | GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, c in (("sudoku-mlp D512 T3 n6", full), ("small D128 T2 n2", small)):
        for B in (32, 128):
            label = f"{name} b{B}"
            if args.only not in label:
                continue
            c = dict(c, batch_size=B)
            trainer = Trainer(c)
            batch = {
                "inputs": torch.randint(1, 11, (B, 81), dtype=torch.int32),
                "labels": torch.randint(2, 11, (B, 81), dtype=torch.int32),
                "puzzle_identifiers": torch.zeros(B, dtype=torch.int32),
            }
            trainer.train_step(batch)  # warm-up
            n, t0 = 0, time.perf_counter()
            while True:
                trainer.train_step(batch)
                n += 1
                dt = time.perf_counter() - t0
                if dt >= args.seconds and n >= 2:
                    break
            step = dt / n
            g = step_gflop(c, B)
            print(f"| {name} | {B} | {B / step:.2f} | {step * 1e3:.1f} | {g:.2f} | {g / step:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
