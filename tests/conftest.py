import os
import sys
import tempfile

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
# never write into the user's real cache folder (subprocesses inherit this too)
os.environ["CLASSWEIGHTS_CACHE"] = tempfile.mkdtemp(prefix="classweights-test-cache-")

from classweights.synthetic import street_scene


@pytest.fixture
def scenes():
    """Six small street-scene masks (trainIds, void 255)."""
    rng = np.random.default_rng(123)
    return [street_scene(48, 96, rng) for _ in range(6)]


def save_png(path, array, mode=None, palette=None):
    from PIL import Image

    if mode == "P":
        h, w = array.shape
        im = Image.frombuffer(
            "P", (w, h), np.ascontiguousarray(array, np.uint8).tobytes(), "raw", "P", 0, 1
        )
    else:
        im = Image.fromarray(array)
        assert mode is None or im.mode == mode, (im.mode, mode)
    if palette is not None:
        im.putpalette(palette)
    im.save(path)
    return path


@pytest.fixture(scope="module", params=["numpy", "numba"])
def kernels(request):
    """Run a module twice: counting with the NumPy twins, then with the Numba kernels.

    ``CLASSWEIGHTS_JIT`` forces the back end that scans otherwise pick by workload, so the
    naive-reference tests prove both bit for bit on every input kind.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLASSWEIGHTS_JIT", "0" if request.param == "numpy" else "1")
        yield request.param


@pytest.fixture(scope="module")
def inproc_client():
    """A real two-worker Dask LocalCluster in this process (tests that need one importorskip
    ``distributed`` first)."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):  # fmt: skip
        yield c
