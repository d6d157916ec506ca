"""Fuzzing the input contract (hypothesis, derandomized: a CI failure reproduces with the same seed).

Contract for every generated case: the CLI exits 0/1 with its normal output, or exits 2 with one line on
stderr and writes nothing at the output location; a reader (``load_model``, ``load_graph``,
``load_lowered``, ``validate.load_array``) returns a value or raises ``SnnCompileError`` -- never any other
exception; memory stays bounded (the process's peak RSS grows by less than ``RSS_GROWTH_LIMIT`` over the
whole suite).

Profiles (environment variable ``SNNCOMPILE_FUZZ``):
  short (default, CI)  2,760 generated cases, a few minutes on one core
  long                 x50: 138,000 cases, for local runs (``SNNCOMPILE_FUZZ=long nice python -m pytest
                       tests/safety/test_fuzz.py -q``); ``SNNCOMPILE_FUZZ_SCALE=N`` sets any multiplier
"""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cli_harness import invoke

PROFILE = os.environ.get("SNNCOMPILE_FUZZ", "short")
SCALE = int(os.environ.get("SNNCOMPILE_FUZZ_SCALE", "50" if PROFILE == "long" else "1"))
RSS_GROWTH_LIMIT = 1 << 30  # bytes; each refused case must be refused before it allocates

# cases per generator in the short profile (x SCALE in others); the sum is the short profile's total
CASES = {"model_bytes": 500, "truncations": 300, "bit_flips": 500, "configs": 160, "snnir": 500,
         "lowered": 300, "arrays": 300, "options": 200}


def fuzz(name: str):
    return settings(max_examples=CASES[name] * SCALE, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


COUNTED: dict[str, int] = {}


def _count(name: str) -> None:
    """Count a generated case; with SNNCOMPILE_FUZZ_COUNTS=FILE the running totals go there every 500."""
    COUNTED[name] = COUNTED.get(name, 0) + 1
    log = os.environ.get("SNNCOMPILE_FUZZ_COUNTS")
    if log and sum(COUNTED.values()) % 500 == 0:
        with open(log, "w", encoding="utf-8") as f:
            json.dump(COUNTED, f)


@pytest.fixture(scope="module", autouse=True)
def bounded_memory():
    """The whole module's cases together raise the peak RSS by less than RSS_GROWTH_LIMIT."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    print(f"\nfuzz profile {PROFILE} x{SCALE}: cases {COUNTED} = {sum(COUNTED.values())}; "
          f"peak RSS grew {grown / 2**20:.0f} MiB")
    assert grown < RSS_GROWTH_LIMIT, grown


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


class _Files(dict):
    def __repr__(self) -> str:  # a falsifying example prints its arguments: not megabytes of checkpoint
        return f"<real example model files {sorted(self)}>"


@pytest.fixture(scope="module")
def real_files(digits_dir):
    names = ("checkpoint.pth", "model.pt")
    return _Files({n: open(os.path.join(digits_dir, n), "rb").read() for n in names})


def _fresh(work, name: str):
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def assert_cli_contract(folder, args, out_name="out.json"):
    """Run the CLI in process; check the contract; returns the exit code."""
    target = folder / out_name
    code, out, err = invoke(*args, "-o", str(target))
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error") and "internal error" not in lines[0], err
        assert not target.exists()
    else:
        assert target.exists()
    assert not [p for p in os.listdir(folder) if "snncompile-tmp" in p]
    return code


def assert_reader_contract(read, *args):
    from snncompile.errors import SnnCompileError

    try:
        return read(*args)
    except SnnCompileError as e:
        assert "\n" not in e.one_line()
        return None


# -- model files --------------------------------------------------------------------------------------------

@fuzz("model_bytes")
@given(data=st.binary(max_size=4096))
def test_random_bytes_as_model(work, data):
    _count("model_bytes")
    folder = _fresh(work, "bytes")
    (folder / "m.pt").write_bytes(data)
    assert assert_cli_contract(folder, ["check", str(folder / "m.pt")]) == 2


@fuzz("truncations")
@given(which=st.sampled_from(["checkpoint.pth", "model.pt"]), fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_real_models(work, real_files, which, fraction):
    _count("truncations")
    folder = _fresh(work, "trunc")
    data = real_files[which]
    (folder / which).write_bytes(data[: int(len(data) * fraction)])
    assert assert_cli_contract(folder, ["check", str(folder / which)]) == 2


@fuzz("bit_flips")
@given(which=st.sampled_from(["checkpoint.pth", "model.pt"]), seed=st.integers(0, 2**32 - 1),
       flips=st.integers(1, 8))
@example(which="checkpoint.pth", seed=4194305, flips=3)  # long run: zipfile's NotImplementedError ("internal error")
@example(which="model.pt", seed=202367, flips=7)  # long run: BadZipFile raised by zipfile.is_zipfile itself
def test_bit_flips_of_real_models(work, real_files, which, seed, flips):
    """Flipped bits anywhere (headers, pickle, tensor bytes): loaded or refused, never a crash.  A flip in
    tensor bytes is caught by the member's CRC."""
    from snncompile.frontends.torch.loading import load_model

    _count("bit_flips")
    folder = _fresh(work, "flip")
    data = bytearray(real_files[which])
    rng = random.Random(seed)
    for _ in range(flips):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    (folder / which).write_bytes(bytes(data))
    assert_reader_contract(load_model, str(folder / which))


HOSTILE_INT = st.one_of(st.integers(-2, 6), st.sampled_from([2**20, 2**31, 2**63 - 1, 32768]))
HOSTILE_VALUE = st.one_of(HOSTILE_INT, st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(),
                          st.text(max_size=8), st.lists(st.integers(-1, 3), max_size=4))


@fuzz("configs")
@given(changes=st.dictionaries(st.sampled_from(["embed_dims", "depths", "num_heads", "mlp_ratio", "img_size",
                                                "in_channels", "num_classes", "T", "tau", "scale", "stem_pool",
                                                "arch", "bogus", "input", "qkv_layer"]),
                               HOSTILE_VALUE, min_size=1, max_size=4),
       size_only=st.booleans())
def test_hostile_checkpoint_configs(work, real_files, digits_dir, changes, size_only):
    """A checkpoint's stored config rebuilt with hostile values: refused (size checked on the meta device
    before anything is allocated) or built."""
    from snncompile.frontends.torch.loading import load_model

    _count("configs")
    folder = _fresh(work, "cfg")
    ckpt = torch.load(os.path.join(digits_dir, "checkpoint.pth"), weights_only=True)
    if size_only:
        changes = {k: v for k, v in changes.items() if isinstance(v, int) and not isinstance(v, bool)} or \
            {"embed_dims": 32768, "depths": 64}
    ckpt["config"] = dict(ckpt["config"], **changes)
    torch.save(ckpt, folder / "c.pth")
    assert_reader_contract(load_model, str(folder / "c.pth"))


# -- .snnir -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_snnir(work):
    from snncompile.examples import presets
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import _describe_example
    from snncompile.ir.serialize import save_graph

    model = presets.build("spikingformer", "digits")
    loaded = _describe_example(model, "digits")
    graph = trace(model, loaded.example_input(1), [loaded.input_domain], name="digits")
    save_graph(graph, work / "real.snnir")
    data = (work / "real.snnir").read_bytes()
    with zipfile.ZipFile(work / "real.snnir") as zf:
        doc = json.loads(zf.read("graph.json"))
    return data, doc


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats() | st.text(max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                max_size=3), max_leaves=6)


@fuzz("snnir")
@given(kind=st.sampled_from(["bytes", "truncate", "flip", "json"]), seed=st.integers(0, 2**32 - 1),
       blob=st.binary(max_size=512), replacement=JSON)
def test_snnir_files(work, real_snnir, kind, seed, blob, replacement):
    from snncompile.ir.serialize import load_graph

    _count("snnir")
    data, doc = real_snnir
    rng = random.Random(seed)
    path = _fresh(work, "snnir") / "g.snnir"
    if kind == "bytes":
        path.write_bytes(blob)
    elif kind == "truncate":
        path.write_bytes(data[: rng.randrange(len(data))])
    elif kind == "flip":
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
    else:  # a structurally valid archive whose graph.json has one part replaced by random JSON
        mutated = json.loads(json.dumps(doc))
        target = mutated
        for _ in range(rng.randint(0, 3)):
            keys = list(target) if isinstance(target, dict) else list(range(len(target))) if isinstance(
                target, list) else []
            if not keys:
                break
            k = rng.choice(keys)
            if rng.random() < 0.5 or not isinstance(target[k], (dict, list)):
                target[k] = replacement
                break
            target = target[k]
        with zipfile.ZipFile(path, "w") as out, zipfile.ZipFile(__import__("io").BytesIO(data)) as src:
            for info in src.infolist():
                body = json.dumps(mutated).encode() if info.filename == "graph.json" else src.read(info)
                out.writestr(info.filename, body)
    assert_reader_contract(load_graph, str(path))


# -- lowered directories ---------------------------------------------------------------------------------------

@fuzz("lowered")
@given(field=st.sampled_from(["format", "version", "mode", "T", "max_lag", "processes", "connections", "emission",
                              "unit_sizes", "inputs", "readouts", "sparse_of", "program", "readout_values",
                              "limits"]),
       action=st.sampled_from(["delete", "replace", "deep"]), replacement=JSON, seed=st.integers(0, 2**32 - 1))
def test_lowered_directory_files(work, lowered_dir, field, action, replacement, seed):
    from snncompile.backends.lava.lower import load_lowered

    _count("lowered")
    folder = _fresh(work, "lowered") / "net.loihi"
    shutil.copytree(lowered_dir, folder)
    doc = json.loads((folder / "network.json").read_text())
    if action == "delete":
        del doc[field]
    elif action == "replace" or not isinstance(doc[field], (dict, list)) or not doc[field]:
        doc[field] = replacement
    else:
        inner = doc[field]
        key = random.Random(seed).choice(list(inner) if isinstance(inner, dict) else range(len(inner)))
        inner[key] = replacement
    (folder / "network.json").write_text(json.dumps(doc))
    assert_reader_contract(load_lowered, str(folder))


# -- arrays and option values -----------------------------------------------------------------------------------

DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int8, np.int64, np.uint8, np.bool_, np.complex64])


@fuzz("arrays")
@given(arr=hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)), damage=st.integers(0, 3))
def test_arrays(work, arr, damage):
    """Any .npy (any dtype, non-finite values, 0-d, truncated): a validated array or a one-line refusal."""
    from snncompile import validate

    _count("arrays")
    path = _fresh(work, "arr") / "x.npy"
    np.save(path, arr)
    if damage == 3:  # a truncated file
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    got = assert_reader_contract(validate.load_array, str(path), "--data")
    if got is not None:
        assert got.dtype.kind in "biuf" and (got.dtype.kind != "f" or np.isfinite(got).all())


OPTION_VALUES = st.one_of(st.integers(-2**40, 2**40).map(str), st.text(max_size=12),
                          st.lists(st.integers(-3, 40), max_size=5).map(lambda v: ",".join(map(str, v))))


# every command that takes MODEL, with the options it validates before loading it
MODEL_OPTIONS = ["-T", "--input-shape", "--model", "--model-arg", "--neuron", "--input-domain"]
COMMAND_OPTIONS = {
    "check": MODEL_OPTIONS + ["--verify-domains", "--select", "--ignore", "--format"],
    "report": MODEL_OPTIONS + ["--limit", "--random", "--batch", "--seed", "--dtype", "--format"],
    "lower": MODEL_OPTIONS + ["--limits", "--mode", "--format"],
    "show": MODEL_OPTIONS,
}
OUTPUT_OPTION = {"check": "-o", "report": "-o", "lower": "-o", "show": "--save"}


@fuzz("options")
@given(command=st.sampled_from(sorted(COMMAND_OPTIONS)), data=st.data(), value=OPTION_VALUES)
def test_option_values(work, command, data, value):
    """Option parsing and validation come before any loading: with a missing MODEL every case is exit 2,
    one line, nothing written."""
    _count("options")
    option = data.draw(st.sampled_from(COMMAND_OPTIONS[command]))
    folder = _fresh(work, "opt")
    target = folder / "out"
    code, out, err = invoke(command, str(folder / "missing.pt"), option, value, OUTPUT_OPTION[command], str(target))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error"), (code, err)
    assert "internal error" not in err and not target.exists() and os.listdir(folder) == []
