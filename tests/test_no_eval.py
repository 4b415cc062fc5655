"""Code safety: configuration text is parsed, never executed.

Three layers: the source has no `eval`/`exec`/`compile` call and no unsafe YAML loader (an AST
scan, plus ruff's S307/S102 rules that `make lint` enforces); and hostile sweep files (Python
object tags, code inside CARBS markers) are refused with a `SweepError` without running anything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate.migrate import migrate_text
from nested_sweeper.spec.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["nested_sweeper", "hydra_plugins", "train", "train.py", "bench", "devops"]
# Calls that run text as code, or build objects a YAML document names.
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "unsafe_load", "full_load",
                   "unsafe_load_all", "full_load_all"}
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader", "UnsafeConstructor"}


def python_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def imports_pyyaml(tree: ast.Module) -> bool:
    """`yaml.load` means PyYAML only where the module imports it (ruamel's YAML() has one too)."""
    return any(isinstance(n, ast.Import) and any(a.name == "yaml" for a in n.names)
               for n in ast.walk(tree))


def problems(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    pyyaml = imports_pyyaml(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name, where = call_name(node), f"{path.relative_to(root)}:{node.lineno}"
        if name in FORBIDDEN_CALLS and not dotted(node.func).startswith(("re.", "regex.")):
            found.append(f"{where}: {dotted(node.func) or name}()")
        if pyyaml and dotted(node.func) in ("yaml.load", "yaml.load_all"):
            loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            if loader is None or dotted(loader).split(".")[-1] in UNSAFE_YAML_LOADERS:
                found.append(f"{where}: yaml.load without a safe Loader")
        if name == "YAML":
            typ = next((k.value for k in node.keywords if k.arg == "typ"), None)
            if isinstance(typ, ast.Constant) and typ.value in ("unsafe", "full"):
                found.append(f"{where}: ruamel YAML(typ={typ.value!r})")
        if name == "load" and dotted(node.func).startswith(("pickle.", "dill.", "cloudpickle.")):
            found.append(f"{where}: {dotted(node.func)}()")
        if name == "load" and dotted(node.func) == "torch.load":
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                       and k.value.value is True for k in node.keywords)
            if not safe:
                found.append(f"{where}: torch.load without weights_only=True")
    return found


def test_scanner_catches_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import yaml, pickle, torch\n"
                   "eval('1')\nexec('x = 1')\nyaml.load(s)\nyaml.load(s, Loader=yaml.Loader)\n"
                   "yaml.unsafe_load(s)\npickle.load(f)\ntorch.load(p)\n"
                   "yaml.load(s, Loader=yaml.SafeLoader)\nre.compile('x')\n")
    found = problems(bad, root=tmp_path)
    assert [f.split(": ", 1)[1] for f in found] == [
        "eval()", "exec()", "yaml.load without a safe Loader", "yaml.load without a safe Loader",
        "yaml.unsafe_load()", "pickle.load()", "torch.load without weights_only=True",
    ]


def test_no_code_execution_or_unsafe_loading_in_the_sources() -> None:
    files = python_files()
    assert len(files) > 15  # the scan saw the package, the trainer and the scripts
    found = [p for f in files for p in problems(f)]
    assert found == []


def test_ruff_enforces_the_eval_and_exec_rules(tmp_path: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    config = (ROOT / "pyproject.toml").read_text()
    assert '"S307"' in config and '"S102"' in config
    sources = [str(ROOT / s) for s in SOURCES if (ROOT / s).exists()]
    clean = subprocess.run([str(ruff), "check", "--select", "S307,S102", *sources],
                           capture_output=True, text=True, cwd=ROOT)
    assert clean.returncode == 0, clean.stdout
    # The rules bite: the same check on a file that evaluates text fails.
    probe = tmp_path / "probe.py"
    probe.write_text("def f(text: str) -> object:\n    exec(text)\n    return eval(text)\n")
    dirty = subprocess.run([str(ruff), "check", "--no-cache", "--isolated", "--select",
                            "S307,S102", str(probe)], capture_output=True, text=True)
    assert dirty.returncode == 1 and "S307" in dirty.stdout and "S102" in dirty.stdout


HOSTILE = {
    "python object tag": 'sweep:\n  method: !!python/object/apply:os.system ["touch {canary}"]\n',
    "python name tag": "sweep:\n  method: !!python/name:os.system\n",
    "code in a CARBS marker": (
        "sweep:\n  parameters:\n    trainer.learning_rate: "
        "\"${{ss:log, __import__('os').system('touch {canary}'), 1}}\"\n"),
    "code in an angle marker": (
        "sweep:\n  trainer:\n    learning_rate: "
        "'$<ss:log, 1e-4, __import__(\"os\").system(\"touch {canary}\")>'\n"),
    "resolver call": "sweep:\n  trainer:\n    learning_rate: \"${{oc.env:HOME}}${{ss:log,1,2,eval}}\"\n",
}


@pytest.fixture(scope="module")
def composed() -> dict:
    from nested_sweeper.cli import compose_config

    return compose_config(str(ROOT / "conf"), "train", [])


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_sweep_files_are_refused_without_running_anything(
    tmp_path: Path, composed: dict, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "PWNED"
    path = tmp_path / "hostile.yaml"
    path.write_text("# @package _global_\n" + HOSTILE[case].format(canary=canary))
    with pytest.raises(SweepError) as err:
        load_spec(path, config=composed)
    assert str(err.value)
    # The legacy migration reads the same text with ruamel's round-trip loader.
    try:
        migrate_text(path.read_text(), file=str(path))
    except SweepError:
        pass
    assert not canary.exists()
    assert not any(tmp_path.glob("*PWNED*"))


def test_markers_resolve_as_numbers_in_a_plain_run() -> None:
    """In a plain run a marker resolves to its centre through the `ss` resolver; anything but
    numbers in it is an error, whether OmegaConf's grammar or the marker parser rejects it."""
    from omegaconf.errors import OmegaConfBaseException

    from nested_sweeper.spec.carbs import register_resolver

    register_resolver()
    cfg = OmegaConf.create({"lr": "${ss:log, 1e-4, 1e-2, 1e-3}", "n": "${ss:int, 1, 10}",
                            "name": "${ss:log, 1e-4, exit}"})
    assert cfg.lr == pytest.approx(1e-3) and isinstance(cfg.n, int)
    with pytest.raises(OmegaConfBaseException, match="bounds must be numbers, got 'exit'"):
        _ = cfg.name
    with pytest.raises(OmegaConfBaseException):  # refused by the grammar, at creation
        _ = OmegaConf.create({"call": "${ss:log, __import__('os').getpid(), 1}"}).call
