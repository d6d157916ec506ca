"""The core works without Lava; the Lava commands say how to get it (one line, exit 2)."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.nolava

BLOCKER = '''
import sys
class _BlockLava:
    def find_spec(self, name, path=None, target=None):
        if name == "lava" or name.startswith("lava."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None
sys.meta_path.insert(0, _BlockLava())
'''


@pytest.fixture
def no_lava_env(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_check_and_lower_work_and_run_fails_cleanly_without_lava(no_lava_env, tmp_path):
    cmd = [sys.executable, "-m", "snncompile"]
    proc = subprocess.run(cmd + ["check", "preset:spikingformer:digits"], env=no_lava_env, capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "lowered"  # lowering writes the network description: no Lava needed
    proc = subprocess.run(cmd + ["lower", "preset:spikingformer:digits", "-o", str(out)], env=no_lava_env,
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((1, 1, 16, 16), dtype=np.float32))
    proc = subprocess.run(cmd + ["run", str(out), "--input", str(tmp_path / "x.npy")], env=no_lava_env,
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "lava" in lines[0].lower(), proc.stderr
