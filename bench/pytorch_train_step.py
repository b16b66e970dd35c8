#!/usr/bin/python3
"""pytorch_train_step.py - times a training step in PyTorch beside rove's
(`rove train --bench`).

The step both sides time: forward, cross-entropy, backward with parameter
gradients, one SGD update (momentum 0.9, weight decay 5e-4); SmallCNN as
rove_arch_smallcnn builds it, batch 128, one thread
(torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1). Prints examples/s of
both and rove / PyTorch. The two runs alternate (PyTorch, rove, PyTorch,
rove, ...) so that a busy machine slows both alike; the best round of each
is reported.

--arch ARCH times one of bench/bench_models.py's networks instead:
PyTorch trains the module that script builds from the same seed, with
each BatchNorm folded into the convolution before it
(torch.fx.experimental.optimization.fuse, as torch.onnx folds them on
export), so that both sides train the same network: the exported
bench/models/ARCH.onnx that rove trains (`rove train --bench --model`).
--optimizer adam takes Adam (lr 1e-3) on both sides. With --arch the
per-round ratios and their median are printed too.

Run with /usr/bin/python3 (Debian's python3-torch). rove never needs this
script; it is only a side-by-side benchmark.

  /usr/bin/python3 bench/pytorch_train_step.py [--rove-bin build/bin/rove]
      [--arch ARCH] [--optimizer sgd|adam] [--batch 128] [--width 1]
      [--steps 20] [--rounds 3]
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


def torch_model(arch, width):
    """The module to train and its input shape."""
    if not arch:
        torch.manual_seed(0)
        return small_cnn(width), (1, 28, 28)
    from bench_models import ARCHS, build
    if arch not in ARCHS:
        sys.exit("pytorch_train_step.py: --arch %s: expected one of %s"
                 % (arch, ", ".join(ARCHS)))
    from torch.fx.experimental.optimization import fuse
    model, shape = build(arch)
    return fuse(model).train(), shape


def torch_round(arch, width, batch, steps, optimizer):
    model, shape = torch_model(arch, width)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                              weight_decay=5e-4)
    x = torch.rand(batch, *shape)
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


def rove_round(rove_bin, arch, width, batch, steps, optimizer):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [rove_bin, "train", "--bench", "--json", "--width", str(width),
           "--batch", str(batch), "--steps", str(steps), "--optimizer",
           optimizer]
    if arch:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "models", arch + ".onnx")
        if not os.path.exists(path):
            sys.exit("pytorch_train_step.py: %s is missing; make it with "
                     "/usr/bin/python3 bench/bench_models.py %s"
                     % (path, arch))
        cmd += ["--model", path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rove-bin", default="build/bin/rove")
    ap.add_argument("--arch", help="a bench_models.py network")
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    best_t, best_r, rj, ratios = 0.0, 0.0, None, []
    for r in range(a.rounds):
        t = torch_round(a.arch, a.width, a.batch, a.steps, a.optimizer)
        j = rove_round(a.rove_bin, a.arch, a.width, a.batch, a.steps,
                       a.optimizer)
        ratios.append(j["examples_per_s"] / t)
        print(f"round {r + 1}: pytorch {t:8.1f} ex/s   rove "
              f"{j['examples_per_s']:8.1f} ex/s   rove/pytorch "
              f"{ratios[-1]:.2f}", flush=True)
        best_t = max(best_t, t)
        if j["examples_per_s"] > best_r:
            best_r, rj = j["examples_per_s"], j
    what = a.arch or f"SmallCNN x{a.width:g}"
    print(f"{what} training step ({a.optimizer}), batch {a.batch}, 1 thread")
    print(f"  pytorch {torch.__version__}: {best_t:.1f} examples/s "
          f"({1e3 * a.batch / best_t:.1f} ms/step)")
    print(f"  rove (openblas core {rj['openblas_core']}, rove kernels "
          f"{rj.get('rove_kernels', '?')}): {best_r:.1f} "
          f"examples/s ({rj['ms_per_step']:.1f} ms/step)")
    print(f"  rove / pytorch = {best_r / best_t:.2f} (best rounds); "
          f"per round {', '.join('%.2f' % q for q in ratios)}; median "
          f"{sorted(ratios)[len(ratios) // 2]:.2f}")


if __name__ == "__main__":
    main()
