#!/usr/bin/python3
"""bench_models.py - the networks users evaluate, with random weights, for
rove's speed benchmarks (issue: engine speed on ResNet, WideResNet,
MobileNet). Builds each architecture in PyTorch, draws its weights and its
BatchNorm statistics from a seed (running means N(0, 0.1), running
variances U(0.5, 1.5), affine weights U(0.8, 1.2) and biases N(0, 0.1), so
a BatchNorm is not the identity a fresh module is), and exports it with
torch.onnx (opset 13, eval mode, batch dimension dynamic) to
bench/models/ARCH.onnx. The ONNX files stay out of git (WideResNet-28-10
is 146 MB); this script regenerates them identically from the seed.

  /usr/bin/python3 bench/bench_models.py [--out bench/models] [ARCH...]

Architectures (CIFAR input 3x32x32, 10 classes, except SmallCNN 1x28x28):
  resnet18       torchvision resnet18 with the CIFAR stem (3x3 stride-1
                 conv1, no max-pool)
  preact_resnet18  PreAct ResNet-18 (He et al. 2016, identity mappings)
  wrn_28_10      WideResNet-28-10 (Zagoruyko & Komodakis 2016), the
                 RobustBench CIFAR-10 standard
  mobilenet_v2   torchvision mobilenet_v2, width 1.0, CIFAR stem (first
                 conv stride 1)
  smallcnn       rove's built-in SmallCNN (bench/smallcnn_torch.py)

Imported by bench/pytorch_pgd_step.py (--arch), which rebuilds the same
module from the same seed for the PyTorch side.
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smallcnn_torch import small_cnn  # noqa: E402


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        sc = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + sc


class PreActResNet18(nn.Module):
    def __init__(self, classes=10, width=64):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        layers, cin = [], w
        for cout, stride in ((w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)):
            layers += [PreActBlock(cin, cout, stride),
                       PreActBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(8 * w)
        self.linear = nn.Linear(8 * w, classes)

    def forward(self, x):
        out = self.layers(self.conv1(x))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1)
        return self.linear(torch.flatten(out, 1))


class WideBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout and stride == 1
        self.shortcut = None if self.equal else nn.Conv2d(
            cin, cout, 1, stride, bias=False)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        sc = x if self.equal else self.shortcut(o)
        o = self.conv2(F.relu(self.bn2(self.conv1(o))))
        return o + sc


class WideResNet(nn.Module):
    def __init__(self, depth=28, k=10, classes=10):
        super().__init__()
        n = (depth - 4) // 6
        w = [16, 16 * k, 32 * k, 64 * k]
        self.conv1 = nn.Conv2d(3, w[0], 3, 1, 1, bias=False)
        blocks, cin = [], w[0]
        for g, stride in ((1, 1), (2, 2), (3, 2)):
            for i in range(n):
                blocks.append(WideBlock(cin, w[g], stride if i == 0 else 1))
                cin = w[g]
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(w[3])
        self.fc = nn.Linear(w[3], classes)

    def forward(self, x):
        o = F.relu(self.bn(self.blocks(self.conv1(x))))
        o = F.adaptive_avg_pool2d(o, 1)
        return self.fc(torch.flatten(o, 1))


def resnet18_cifar(width=64):
    """torchvision's resnet18 with the CIFAR stem; width < 64 scales every
    stage (for the small test fixtures), built from torchvision's own
    BasicBlock."""
    import torchvision
    from torchvision.models.resnet import BasicBlock
    m = torchvision.models.resnet18(num_classes=10)
    if width != 64:
        def stage(cin, cout, stride):
            down = None
            if stride != 1 or cin != cout:
                down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride,
                                               bias=False),
                                     nn.BatchNorm2d(cout))
            return nn.Sequential(BasicBlock(cin, cout, stride, down),
                                 BasicBlock(cout, cout))
        w = width
        m.bn1 = nn.BatchNorm2d(w)
        m.layer1 = stage(w, w, 1)
        m.layer2 = stage(w, 2 * w, 2)
        m.layer3 = stage(2 * w, 4 * w, 2)
        m.layer4 = stage(4 * w, 8 * w, 2)
        m.fc = nn.Linear(8 * w, 10)
    m.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m


def mobilenet_v2_cifar(width_mult=1.0, setting=None):
    import torchvision
    m = torchvision.models.mobilenet_v2(num_classes=10, width_mult=width_mult,
                                        inverted_residual_setting=setting)
    m.features[0][0].stride = (1, 1)
    return m


ARCHS = {
    "resnet18": (resnet18_cifar, (3, 32, 32)),
    "preact_resnet18": (PreActResNet18, (3, 32, 32)),
    "wrn_28_10": (WideResNet, (3, 32, 32)),
    "mobilenet_v2": (mobilenet_v2_cifar, (3, 32, 32)),
    "smallcnn": (small_cnn, (1, 28, 28)),
}


def build(arch, seed=0, ctor=None, shape=None):
    """The module in eval mode with weights and BN statistics from seed
    (ctor and shape: another constructor, for the small test fixtures)."""
    if ctor is None:
        ctor, shape = ARCHS[arch]
    torch.manual_seed(seed)
    m = ctor()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
                mod.weight.copy_(0.8 + 0.4 * torch.rand(c, generator=g))
                mod.bias.copy_(0.1 * torch.randn(c, generator=g))
    return m.eval(), shape


def export(arch, path, seed=0, ctor=None, shape=None):
    m, shape = build(arch, seed, ctor, shape)
    x = torch.rand(1, *shape)
    torch.onnx.export(m, x, path, opset_version=13, input_names=["x"],
                      output_names=["logits"],
                      dynamic_axes={"x": {0: "b"}, "logits": {0: "b"}})
    return os.path.getsize(path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "models"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("arch", nargs="*", default=list(ARCHS))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for arch in a.arch:
        if arch not in ARCHS:
            sys.exit("bench_models.py: unknown architecture %s (expected %s)"
                     % (arch, ", ".join(ARCHS)))
        path = os.path.join(a.out, arch + ".onnx")
        size = export(arch, path, a.seed)
        print("%-16s %s (%.1f MB)" % (arch, path, size / 1e6))


if __name__ == "__main__":
    main()
