"""python/examples/dqn_torch.py trains a few hundred iterations, exports, and is evaluated."""
import os
import re
import subprocess
import sys

import bestserve
from conftest import CLI, SOURCE_DIR


def test_the_dqn_example_trains_exports_and_is_evaluated_by_the_cli(tmp_path):
    example = os.path.join(SOURCE_DIR, "python", "examples", "dqn_torch.py")
    cli = CLI
    if "LD_PRELOAD" in os.environ:
        # Sanitizer build: python3 runs with the ASan runtime preloaded (tests/python/CMakeLists.txt);
        # the CLI the example starts carries its own and must not get the preloaded one too.
        cli = str(tmp_path / "bestserve")
        with open(cli, "w") as wrapper:
            wrapper.write(f'#!/bin/sh\nunset LD_PRELOAD\nexec "{CLI}" "$@"\n')
        os.chmod(cli, 0o755)
    result = subprocess.run(
        [sys.executable, example, "--iterations", "400", "--envs", "8", "--learning-starts", "100", "--batch", "32",
         "--hidden", "32", "--out", str(tmp_path), "--cli", cli, "--eval-args", "--set workload.num_requests=400"],
        capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"trained (\d+) iterations \((\d+) updates\)", result.stdout)
    assert match, result.stdout
    iterations, updates = int(match.group(1)), int(match.group(2))
    # 8 updates per vector step once 100 transitions (credited decisions) are stored.
    assert iterations == 400 and updates % 8 == 0 and 0 < updates <= 400 - 100
    policy = tmp_path / "policy.bsw"
    router = bestserve.Router.load(str(policy))
    assert router.model_names == ["opt-125m", "opt-1.3b", "opt-6.7b"]
    assert f"policy:{policy}" in result.stdout  # the evaluation table's row for the trained policy
