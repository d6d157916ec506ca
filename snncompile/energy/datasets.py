"""Where ``report`` reads its samples: map-style datasets a :class:`torch.utils.data.DataLoader` streams.

Every source yields one sample at a time as a float32 array with the model's per-sample input shape,
and says what it is (``describe``), how many samples it holds (``n``) and their ``shape``:

* :class:`ArraySamples` — an array ``[N, ...]``: a memory-mapped ``.npy`` (``--data X.npy``) or the
  ``inputs.npy`` saved beside a model.
* :class:`ShardFolder` — a folder of ``.npy`` / ``.npz`` shards ``[n_i, ...]`` read in file-name order
  (``--data DIR``); an ``.npz`` shard holds one array, or several with the samples under ``x``.
* :class:`RandomSamples` — seeded random inputs (``--random N``): sample ``i`` is the ``i``-th block of
  the PCG64 stream of ``seed``, so any process reads any sample and the values equal a sequential draw.
* :class:`UserDataset` — a torchvision-style dataset class named with ``--dataset PKG.MOD:CLASS``,
  built as ``CLASS(root, **args)``; an item ``(x, label, ...)`` contributes ``x``; a PIL image is
  converted as torchvision's ``ToTensor`` does (HWC uint8 → CHW float in [0, 1]).  Its code is imported
  only because the user named it (folders from ``--import-path`` are on ``sys.path``).
"""
from __future__ import annotations

import bisect
import glob
import os
import zipfile
from typing import Optional, Sequence

import numpy as np

from snncompile import validate
from snncompile.errors import InputError
from snncompile.frontends.torch.loading import resolve_factory


class _Source:
    n: int
    shape: tuple
    describe: str

    def __len__(self) -> int:
        return self.n

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start..stop`` stacked (the interface of :class:`snncompile.energy.report.Samples`),
        checked as they stream (numeric, finite: ``snncompile.validate``) whatever the source."""
        stop = min(stop, self.n)
        batch = np.stack([self[i] for i in range(start, stop)])
        return validate.array(batch, f"{self.describe}: samples {start}..{stop - 1}")


class ArraySamples(_Source):
    def __init__(self, array, describe: str, limit: Optional[int] = None):
        self.array = array
        self.n = len(array) if limit is None else min(len(array), limit)
        self.shape, self.describe = tuple(array.shape[1:]), describe

    def __getitem__(self, i: int) -> np.ndarray:
        return np.array(self.array[i], dtype=np.float32)


def _npz_member(path: str) -> str:
    with zipfile.ZipFile(path) as z:
        names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
    if len(names) == 1:
        return names[0]
    if "x" in names:
        return "x"
    raise InputError(f"{path}: an .npz shard must hold one array or an array named 'x' (found {', '.join(names)})")


def _shard_header(path: str):
    """(shape, dtype) of an .npy file or of the samples array of an .npz shard, without reading data."""
    try:
        if path.endswith(".npz"):
            key = _npz_member(path)
            with zipfile.ZipFile(path) as z, z.open(key + ".npy") as f:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
            return shape, dtype
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        return arr.shape, arr.dtype
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - any unreadable shard is an input error
        raise InputError(f"{path}: not a readable .npy/.npz shard ({' '.join(str(e).split())[:160]})") from None


class ShardFolder(_Source):
    def __init__(self, folder: str, limit: Optional[int] = None):
        self.paths = sorted(glob.glob(os.path.join(folder, "*.npy")) + glob.glob(os.path.join(folder, "*.npz")))
        if not self.paths:
            raise InputError(f"{folder}: no .npy or .npz shards in this folder")
        sizes, shape = [], None
        for p in self.paths:
            s, dtype = _shard_header(p)
            if len(s) < 1 or dtype.kind not in "biuf":
                raise InputError(f"{p}: expected a numeric array [n, ...], got shape {s} dtype {dtype}")
            if shape is not None and tuple(s[1:]) != shape:
                raise InputError(f"{p}: samples of shape {tuple(s[1:])}, the first shard has {shape}")
            shape = tuple(s[1:])
            sizes.append(int(s[0]))
        self.starts = list(np.cumsum([0] + sizes[:-1]))
        total = int(sum(sizes))
        self.n = total if limit is None else min(total, limit)
        self.shape = shape
        self.describe = f"{folder} ({len(self.paths)} shard(s))"
        self._open: tuple = (None, None)  # (index, array) of the shard read last (per worker process)

    def _shard(self, k: int):
        if self._open[0] != k:
            p = self.paths[k]
            arr = np.load(p)[_npz_member(p)] if p.endswith(".npz") else np.load(p, mmap_mode="r")
            self._open = (k, arr)
        return self._open[1]

    def __getitem__(self, i: int) -> np.ndarray:
        k = bisect.bisect_right(self.starts, i) - 1
        return np.array(self._shard(k)[i - self.starts[k]], dtype=np.float32)


class RandomSamples(_Source):
    def __init__(self, n: int, shape: Sequence[int], binary: bool, seed: int = 0):
        self.n, self.shape, self.binary, self.seed = int(n), tuple(shape), binary, seed
        kind = "binary events p=0.2" if binary else "uniform [0, 1)"
        self.describe = f"random ({kind}, seed {seed})"

    def __getitem__(self, i: int) -> np.ndarray:
        bits = np.random.PCG64(self.seed)
        size = int(np.prod(self.shape))
        bits.advance(i * size)  # one 64-bit draw per float64
        x = np.random.Generator(bits).random(self.shape, dtype=np.float64).astype(np.float32)
        return (x < 0.2).astype(np.float32) if self.binary else x


def _as_array(item) -> np.ndarray:
    if isinstance(item, (tuple, list)):
        item = item[0]
    if hasattr(item, "detach"):
        return item.detach().cpu().numpy().astype(np.float32, copy=False)
    if type(item).__module__.startswith("PIL."):
        a = np.asarray(item, dtype=np.float32) / 255.0
        return (a[..., None] if a.ndim == 2 else a).transpose(2, 0, 1).copy()
    return np.asarray(item, dtype=np.float32)


class UserDataset(_Source):
    def __init__(self, spec: str, args: dict, root: Optional[str], limit: Optional[int] = None):

        try:
            cls = resolve_factory(spec)
        except InputError as e:
            raise InputError(str(e).replace("--model", "--dataset")) from None
        try:
            self.dataset = cls(root, **args) if root is not None else cls(**args)
            total = len(self.dataset)
            first = _as_array(self.dataset[0]) if total else None
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - user code: one line naming it
            text = " ".join(str(e).split())[:200]
            raise InputError(f"--dataset {spec}: {type(e).__name__}: {text}") from None
        if not total:
            raise InputError(f"--dataset {spec}: the dataset is empty")
        self.n = total if limit is None else min(total, limit)
        self.shape = tuple(first.shape)
        self.describe = f"{spec}({root or ''})"

    def __getitem__(self, i: int) -> np.ndarray:
        return _as_array(self.dataset[i])


def open_data(data: Optional[str], dataset: Optional[str], dataset_args: dict, dataset_root: Optional[str],
              limit: Optional[int]):
    """The source named by ``--data`` (a .npy file or a shard folder) or ``--dataset``; None if neither."""
    if data and dataset:
        raise InputError("give either --data or --dataset, not both")
    if dataset:
        return UserDataset(dataset, dataset_args, dataset_root, limit)
    if dataset_args or dataset_root:
        raise InputError("--dataset-arg and --dataset-root need --dataset")
    if not data:
        return None
    if os.path.isdir(data):
        return ShardFolder(data, limit)
    if not os.path.exists(data):
        raise InputError(f"{data}: not a readable .npy file or folder (no such file)")
    validate.regular_file(data, "--data")
    try:
        arr = np.load(data, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{data}: not a readable .npy file or folder ({' '.join(str(e).split())[:160]})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim < 1 or arr.dtype.kind not in "biuf":
        raise InputError(f"{data}: expected a numeric array [N, ...], got dtype {getattr(arr, 'dtype', '?')}")
    if len(arr) == 0:
        raise InputError(f"{data}: holds no samples")
    validate.array_rows(arr[:limit] if limit else arr, f"--data {data}")  # refused before any run starts
    return ArraySamples(arr, data, limit)
