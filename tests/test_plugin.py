"""The plugin as Hydra sees it: discovered, registered, and light at app start."""

from __future__ import annotations

import json
import subprocess
import sys

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper


def test_discovered_and_registered() -> None:
    names = [p.__name__ for p in Plugins.instance().discover(Sweeper)]
    assert "NestedSweeper" in names
    node = ConfigStore.instance().load("hydra/sweeper/nested.yaml").node
    assert node._target_ == "hydra_plugins.nested_sweeper.nested_sweeper.NestedSweeper"
    assert node.max_failure_rate == 0.5


def test_app_start_imports_no_heavy_modules() -> None:
    code = (
        "import sys, json\n"
        "from hydra.core.plugins import Plugins\n"
        "from hydra.plugins.sweeper import Sweeper\n"
        "Plugins.instance().discover(Sweeper)\n"
        "import hydra_plugins.nested_sweeper as p, hydra_plugins.nested_sweeper.nested_sweeper\n"
        "print(json.dumps(sorted(m for m in ('torch', 'optuna', 'numpy', 'scipy', 'wandb',"
        " 'matplotlib', 'sqlalchemy') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_searcher_is_exported_lazily() -> None:
    """`Searcher` and `report` come from their modules on first use, not at import; an
    unknown name is an AttributeError (what `hasattr` and `from ... import` rely on)."""
    code = (
        "import sys, json\n"
        "import hydra_plugins.nested_sweeper as pkg\n"
        "before = [m for m in ('nested_sweeper.search.searcher',"
        " 'nested_sweeper.engine.report') if m in sys.modules]\n"
        "from nested_sweeper.search.searcher import Searcher\n"
        "from nested_sweeper.engine.report import report\n"
        "print(json.dumps({'before': before, 'searcher': pkg.Searcher is Searcher,"
        " 'report': pkg.report is report, 'missing': hasattr(pkg, 'Nope')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"before": [], "searcher": True, "report": True, "missing": False}
