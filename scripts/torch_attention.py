"""PyTorch's side of `bench attention`: causal attention at the gpt-words shapes ([64, 4, 16, 16]),
F.scaled_dot_product_attention and the composed form of ../shared/peers/torch_models.py's Block,
forward alone (no_grad) and forward + backward to q, k, v, each the best of five rounds of 200
calls. Usage: python scripts/torch_attention.py [THREADS] (default 2)."""
import math, sys, time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0)
shape = (64, 4, 16, 16)
q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
up = torch.randn(shape)
mask = torch.ones(16, 16, dtype=torch.bool).triu(1)
def fused(): return F.scaled_dot_product_attention(q, k, v, is_causal=True)
def composed():
    att = (q @ k.transpose(-2, -1)) / math.sqrt(16)
    return att.masked_fill(mask, float("-inf")).softmax(-1) @ v
def best(f):
    for _ in range(20): f()
    r = 200; t = float("inf")
    for _ in range(5):
        s = time.perf_counter()
        for _ in range(r): f()
        t = min(t, (time.perf_counter() - s) / r)
    return t * 1e3
for name, f in [("torch fused sdpa", fused), ("torch composed (peer Block)", composed)]:
    def fb():
        q.grad = k.grad = v.grad = None
        torch.autograd.grad(f(), (q, k, v), up)
    with torch.no_grad():
        fw = best(f)
    print(f"{name}: forward {fw:.4f} ms, forward+backward {best(fb):.4f} ms")
