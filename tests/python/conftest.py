"""Shared fixtures of the Python package's tests (run by ctest: python_test)."""
import os
import subprocess
import sys

import pytest

# ctest sets these; running pytest by hand needs the same (see README, section "Python").
for name in ("BESTSERVE_CLI", "BESTSERVE_TRAJECTORY_DUMP", "BESTSERVE_SOURCE_DIR"):
    if name not in os.environ:
        raise RuntimeError(f"{name} is not set: run these tests through ctest -R python_test, or set it "
                           "as tests/python/CMakeLists.txt does")

SOURCE_DIR = os.environ["BESTSERVE_SOURCE_DIR"]
CLI = os.environ["BESTSERVE_CLI"]
TRAJECTORY_DUMP = os.environ["BESTSERVE_TRAJECTORY_DUMP"]

# Small, fast episodes for most tests.
SMALL = {"episode_requests": 300}


# The bestserve programs this suite runs carry their own sanitizer runtime when built with one;
# the runtime preloaded into python3 for the extension (tests/python/CMakeLists.txt) must not be
# loaded into them a second time.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def run_cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=CHILD_ENV)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
