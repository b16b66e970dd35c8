#!/usr/bin/python3
"""pytorch_train_step.py - times a SmallCNN training step in PyTorch beside
rove's (`rove train --bench`).

The step both sides time: forward, cross-entropy, backward with parameter
gradients, one SGD update (momentum 0.9, weight decay 5e-4); SmallCNN as
rove_arch_smallcnn builds it, batch 128, one thread
(torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1). Prints examples/s of
both and rove / PyTorch. The two runs alternate (PyTorch, rove, PyTorch,
rove, ...) so that a busy machine slows both alike; the best round of each
is reported.

Run with /usr/bin/python3 (Debian's python3-torch). rove never needs this
script; it is only a side-by-side benchmark.

  /usr/bin/python3 bench/pytorch_train_step.py [--rove-bin build/bin/rove]
      [--batch 128] [--width 1] [--steps 20] [--rounds 3]
"""
import argparse
import json
import os
import subprocess
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError:
    sys.exit("pytorch_train_step.py: PyTorch is not installed "
             "(apt-get install python3-torch; run with /usr/bin/python3)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smallcnn_torch import small_cnn  # noqa: E402


def torch_round(width, batch, steps):
    torch.manual_seed(0)
    model = small_cnn(width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    return batch * steps / dt


def rove_round(rove_bin, width, batch, steps):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [rove_bin, "train", "--bench", "--json", "--width", str(width),
         "--batch", str(batch), "--steps", str(steps)],
        check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rove-bin", default="build/bin/rove")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    best_t, best_r, rj = 0.0, 0.0, None
    for r in range(a.rounds):
        t = torch_round(a.width, a.batch, a.steps)
        j = rove_round(a.rove_bin, a.width, a.batch, a.steps)
        print(f"round {r + 1}: pytorch {t:8.1f} ex/s   rove "
              f"{j['examples_per_s']:8.1f} ex/s", flush=True)
        best_t = max(best_t, t)
        if j["examples_per_s"] > best_r:
            best_r, rj = j["examples_per_s"], j
    print(f"SmallCNN x{a.width:g} training step, batch {a.batch}, 1 thread")
    print(f"  pytorch {torch.__version__}: {best_t:.1f} examples/s "
          f"({1e3 * a.batch / best_t:.1f} ms/step)")
    print(f"  rove (openblas core {rj['openblas_core']}): {best_r:.1f} "
          f"examples/s ({rj['ms_per_step']:.1f} ms/step)")
    print(f"  rove / pytorch = {best_r / best_t:.2f}")


if __name__ == "__main__":
    main()
