"""The same `modelyard train` under `accelerate launch` with two CPU processes (gloo)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.conftest import recipe_dict

from modelyard import registry


@pytest.mark.distributed
def test_two_cpu_processes_train_and_register_once(home: Path, tiny_csv: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recipe_dict(tiny_csv, max_steps=4, batch_size=4) | {"name": "tiny-ddp"}))
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate is not None
    # --multi_gpu selects accelerate's torchrun launcher; on a machine without GPUs our workers join a gloo group.
    command = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "29517",
        "-m",
        "modelyard",
        "train",
        str(recipe),
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    versions = registry.list_versions("tiny-ddp")
    assert [v.ref for v in versions] == ["tiny-ddp:1"]  # only the main process registers
    assert versions[0].metrics["processes"] == 2
    assert "registered tiny-ddp:1" in done.stdout
