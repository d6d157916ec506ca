"""Data sets for the example models that need no download.

* :func:`load_digits`: scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes), upsampled
  (bilinear) to ``img_size``, split train/test with a fixed seed (stratified), scaled to [0, 1] and
  normalised by the training set's mean and standard deviation. Images ``[N, 1, H, W]`` float32.
* :func:`load_events`: a generated event-stream set shaped like DVS input, ``[N, T, 2, H, W]`` float32 in
  {0, 1}: a bright rectangle moves across a dark field in one of ``num_classes`` directions (class k: right,
  left, down, up, then the four diagonals); channel 0 holds ON events (intensity rose), channel 1 OFF events
  (intensity fell), plus uniform noise events. Fully determined by ``seed``.
"""
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Split", "load_digits", "load_events", "make_events", "DIRECTIONS"]


class Split(NamedTuple):
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(img_size: int = 16, test_size: float = 0.2, seed: int = 0) -> Split:
    """sklearn digits, ``[N, 1, img_size, img_size]`` float32 (normalised), labels int64."""
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    d = _sk_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)  # [N, 1, 8, 8] in [0, 1]
    if img_size != 8:
        x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
    y = torch.from_numpy(d.target.astype(np.int64))
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed,
                                           stratify=d.target)
    x_train, x_test = x[idx_train], x[idx_test]
    mean, std = x_train.mean(), x_train.std()
    return Split((x_train - mean) / std, y[idx_train], (x_test - mean) / std, y[idx_test])


#: (dy, dx) unit step per class.
DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1)]


def make_events(n: int, T: int = 8, img_size: int = 32, num_classes: int = 4, noise: float = 0.01,
                seed: int = 0):
    """``n`` event clips ``[n, T, 2, H, W]`` (float32 in {0, 1}) and labels ``[n]`` (int64); see the module
    docstring. Rectangle sides 4..img_size/3, speed 1..2 px per step, start chosen so it stays mostly visible."""
    if not 1 <= num_classes <= len(DIRECTIONS):
        raise ValueError(f"num_classes must be in 1..{len(DIRECTIONS)}")
    rng = np.random.default_rng(seed)
    H = W = img_size
    x = np.zeros((n, T, 2, H, W), dtype=np.float32)
    y = rng.integers(0, num_classes, size=n)
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(n):
        dy, dx = DIRECTIONS[y[i]]
        h, w = rng.integers(4, max(5, img_size // 3) + 1, size=2)
        speed = rng.integers(1, 3)
        travel = speed * (T + 1)
        # start so that the centre stays inside the frame over the clip
        cy = rng.uniform(h / 2 + (travel if dy < 0 else 0), H - h / 2 - (travel if dy > 0 else 0))
        cx = rng.uniform(w / 2 + (travel if dx < 0 else 0), W - w / 2 - (travel if dx > 0 else 0))

        def frame(t):
            py, px = cy + dy * speed * t, cx + dx * speed * t
            return ((np.abs(yy - py) <= h / 2) & (np.abs(xx - px) <= w / 2)).astype(np.float32)

        prev = frame(-1)
        for t in range(T):
            cur = frame(t)
            x[i, t, 0] = cur > prev
            x[i, t, 1] = cur < prev
            prev = cur
    if noise > 0:
        x = np.maximum(x, (rng.random(x.shape) < noise).astype(np.float32))
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def load_events(n_train: int = 800, n_test: int = 200, T: int = 8, img_size: int = 32, num_classes: int = 4,
                seed: int = 0) -> Split:
    """Train/test event clips from :func:`make_events` with seeds ``seed`` and ``seed + 1``."""
    x_train, y_train = make_events(n_train, T, img_size, num_classes, seed=seed)
    x_test, y_test = make_events(n_test, T, img_size, num_classes, seed=seed + 1)
    return Split(x_train, y_train, x_test, y_test)
