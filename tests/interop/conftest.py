import pytest

pytest.importorskip("nir")
