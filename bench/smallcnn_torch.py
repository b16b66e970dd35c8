"""smallcnn_torch.py - SmallCNN in PyTorch, as rove_arch_smallcnn builds it,
for the side-by-side benchmark scripts in bench/ (imported, not run)."""
import torch.nn as nn


def widths(width=1.0):
    """Hidden widths (32, 64, 200) scaled as rove does: rounded half to
    even (Python's round, C's lrintf), at least 1."""
    return tuple(max(1, round(base * width)) for base in (32, 64, 200))


def small_cnn(width=1.0, classes=10):
    """Unpadded 3x3 convs, 2x2 max-pools, three dense layers."""
    c1, c2, h = widths(width)
    return nn.Sequential(
        nn.Conv2d(1, c1, 3), nn.ReLU(), nn.Conv2d(c1, c1, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(c1, c2, 3), nn.ReLU(),
        nn.Conv2d(c2, c2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(c2 * 16, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
        nn.Linear(h, classes))


def macs(width=1.0, classes=10):
    """Multiply-adds per 28x28 example (rove_model_macs)."""
    c1, c2, h = widths(width)
    return (26 * 26 * c1 * 9 + 24 * 24 * c1 * c1 * 9 + 10 * 10 * c2 * c1 * 9
            + 8 * 8 * c2 * c2 * 9 + c2 * 16 * h + h * h + h * classes)
