#!/usr/bin/python3
"""pytorch_pgd_step.py - times a network's PGD step in PyTorch beside rove's.

The same work `rove bench` calls a step: forward, cross-entropy, backward to
the input only (parameters do not require gradients), one L-inf sign step
and a clip to [0, 1]; batch 100, one thread (torch.set_num_threads(1)).
Prints examples/s; with a rove figure (--rove-figure, or by running
`rove bench --json` itself) also prints rove / PyTorch.

--arch ARCH times one of bench/bench_models.py's networks (resnet18,
preact_resnet18, wrn_28_10, mobilenet_v2, smallcnn): PyTorch runs the
module that script builds from the same seed, rove runs `rove bench
--model bench/models/ARCH.onnx` (make it first with bench_models.py).
Without --arch: SmallCNN, rove's built-in against smallcnn_torch.py.

With --rounds N (default 3) PyTorch and rove are timed alternately N
times and the per-round ratios and their median are printed: on a shared,
noisy machine the ratio of two figures taken seconds apart is steadier than
either figure.

Run with /usr/bin/python3 (Debian's python3-torch). rove never needs this
script; it is only a side-by-side benchmark.

  /usr/bin/python3 bench/pytorch_pgd_step.py [--rove-bin build/bin/rove]
      [--arch ARCH] [--rove-figure EX_PER_S] [--no-rove] [--batch 100]
      [--min-time 2] [--rounds 3]
"""
import argparse
import json
import os
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("pytorch_pgd_step.py: PyTorch is not installed "
             "(apt-get install python3-torch; run with /usr/bin/python3)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smallcnn_torch import macs, small_cnn  # noqa: E402


def time_it(fn, min_time):
    """Mean seconds per call after a warm-up of a tenth of min_time."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.1 * min_time:
        fn()
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        t = time.perf_counter() - t0
        if t >= min_time:
            return t / reps


def rove_step_figure(rove_bin, batch, min_time, model_path=None):
    cmd = [rove_bin, "bench", "--json", "--batch", str(batch), "--min-time",
           str(min_time)]
    if model_path:
        cmd += ["--model", model_path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ,
                                  OPENBLAS_NUM_THREADS="1")).stdout
    res = json.loads(out)
    want = model_path or "smallcnn"
    for r in res["results"]:
        if r["model"] == want and r["batch"] == batch:
            return r["step_ex_per_s"], r["fwd_ex_per_s"], res
    sys.exit("pytorch_pgd_step.py: rove bench printed no %s figure "
             "at batch %d" % (want, batch))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--rove-bin",
                    default=os.path.join(here, "..", "build", "bin", "rove"))
    ap.add_argument("--rove-figure", type=float,
                    help="rove's PGD-step examples/s (skips running rove)")
    ap.add_argument("--no-rove", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arch", help="a bench_models.py network")
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("pytorch_pgd_step.py: --rounds must be >= 1")

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model_path = None
    shape = (1, 28, 28)
    name = "SmallCNN"
    if a.arch:
        from bench_models import ARCHS, build
        if a.arch not in ARCHS:
            sys.exit("pytorch_pgd_step.py: --arch %s: expected one of %s"
                     % (a.arch, ", ".join(ARCHS)))
        model, shape = build(a.arch)
        name = a.arch
        model_path = os.path.join(here, "models", a.arch + ".onnx")
        if not os.path.exists(model_path):
            sys.exit("pytorch_pgd_step.py: %s is missing: run "
                     "/usr/bin/python3 bench/bench_models.py %s"
                     % (model_path, a.arch))
    else:
        model = small_cnn().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    B = a.batch
    x = torch.rand(B, *shape)
    y = torch.randint(0, 10, (B,))
    state = {"x": x.clone()}

    def fwd():
        with torch.no_grad():
            model(x)

    def step():
        xa = state["x"].requires_grad_(True)
        loss = F.cross_entropy(model(xa), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xa)
        state["x"] = (xa.detach() + 0.01 * g.sign()).clamp_(0.0, 1.0)

    m = macs()
    if a.arch:  # rove counts the MACs of the exported graph
        m = None
    run_rove = a.rove_figure is None and not a.no_rove
    if m is None and run_rove and os.access(a.rove_bin, os.X_OK):
        info = subprocess.run([a.rove_bin, "bench", "--json", "--batch", "1",
                               "--min-time", "0.01", "--model", model_path],
                              check=True, capture_output=True, text=True,
                              env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        for r in json.loads(info.stdout)["results"]:
            if r["model"] == model_path:
                m = r["macs"]
    m = m or 0
    print("PyTorch %s, %d thread(s), %s %d MACs/example, batch %d"
          % (torch.__version__, torch.get_num_threads(), name, m, B))
    if run_rove and not os.access(a.rove_bin, os.X_OK):
        print("(no rove binary at %s: pass --rove-bin or --rove-figure)"
              % a.rove_bin)
        run_rove = False
    ratios_f, ratios_s = [], []
    for rnd in range(a.rounds):
        tf = time_it(fwd, a.min_time)
        ts = time_it(step, a.min_time)
        print("round %d" % (rnd + 1))
        print("pytorch forward:  %9.1f examples/s  %6.2f GFLOP/s"
              % (B / tf, 2 * m * B / tf * 1e-9))
        print("pytorch PGD step: %9.1f examples/s  %6.2f GFLOP/s"
              % (B / ts, 4 * m * B / ts * 1e-9))
        rove = a.rove_figure
        if run_rove:
            rove, rove_fwd, res = rove_step_figure(a.rove_bin, B, a.min_time,
                                                   model_path)
            print("rove forward:     %9.1f examples/s  (openblas core %s)"
                  % (rove_fwd, res["openblas_core"]))
            print("rove/PyTorch forward:  %.2f" % (rove_fwd / (B / tf)))
            ratios_f.append(rove_fwd / (B / tf))
        if rove is not None:
            print("rove PGD step:    %9.1f examples/s" % rove)
            print("rove/PyTorch PGD step: %.2f" % (rove / (B / ts)))
            ratios_s.append(rove / (B / ts))
    if len(ratios_s) > 1:
        def median(v):
            v = sorted(v)
            n = len(v)
            return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
        print("per-round rove/PyTorch PGD step: %s; median %.2f"
              % (", ".join("%.2f" % r for r in ratios_s), median(ratios_s)))
        if ratios_f:
            print("per-round rove/PyTorch forward: %s; median %.2f"
                  % (", ".join("%.2f" % r for r in ratios_f),
                     median(ratios_f)))

if __name__ == "__main__":
    main()
