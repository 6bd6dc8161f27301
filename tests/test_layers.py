"""The layers of docs/architecture.md hold: `lint-imports` checks pyproject's import-linter contracts,
so CI (which runs the tests) fails when a lower layer starts importing a higher one."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports() -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [str(command), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_layers_contract_names_every_top_level_package() -> None:
    """A new package must be placed in a layer, or nothing would stop it importing upwards."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    package = ROOT / "src" / "thinktank"
    present = {f"thinktank.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    present |= {f"thinktank.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    assert present - placed == set(), "place these in [tool.importlinter] layers"
