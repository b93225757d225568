"""The layers run one way: core -> io -> registry -> steps -> review -> viz -> defs -> demo -> cli.

Every import of every module is read from its source (those inside functions too), in the spirit of narwhals'
`no_imports_test.py` turned on the project's own layers: a module may import its own layer and those below it,
never one above.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import monitoring_pipeline

PACKAGE = Path(monitoring_pipeline.__file__).parent
LAYERS = ("core", "io", "registry", "steps", "review", "viz", "defs", "demo", "cli")
# the top-level modules: the serving-path guard API sits on io (it reads the config file), the code location on defs
TOP_LEVEL = {"__init__": "io", "guard": "io", "definitions": "defs"}
CORE_MAY_IMPORT = {"numpy", "polars", "orjson", "monitoring_pipeline"}
BELOW_DEFS = LAYERS[: LAYERS.index("defs")]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str | None:
    """The layer of a project module (None: not ours); a name the package root exports sits with the root."""
    parts = module.split(".")
    if parts[0] != "monitoring_pipeline":
        return None
    name = parts[1] if len(parts) > 1 else "__init__"
    if name in LAYERS or name in TOP_LEVEL:
        return TOP_LEVEL.get(name, name)
    return TOP_LEVEL["__init__"]


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Every module `path` (or `source`, read as if it were `path`) imports, wherever in the file; `from package
    import module` counts the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import"
            package = (PACKAGE.parent / node.module.replace(".", "/")).is_dir()
            found |= {f"{node.module}.{alias.name}" for alias in node.names} if package else {node.module}
    return found


def _project_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _upward_imports(imports: dict[Path, set[str]]) -> list[str]:
    wrong = []
    for path, modules in imports.items():
        own = LAYERS.index(_layer(_module_name(path)))
        for module in sorted(modules):
            layer = _layer(module)
            if layer is not None and LAYERS.index(layer) > own:
                wrong.append(f"{_module_name(path)} ({LAYERS[own]}) imports {module} ({layer})")
    return wrong


def test_no_module_imports_a_layer_above_its_own() -> None:
    imports = {path: _imports(path) for path in _project_modules()}
    assert _upward_imports(imports) == []


def test_every_top_level_module_has_a_layer() -> None:
    names = {path.stem for path in PACKAGE.glob("*.py")} | {path.name for path in PACKAGE.iterdir() if path.is_dir()}
    assert names - {"__pycache__"} <= set(LAYERS) | set(TOP_LEVEL)


@pytest.mark.parametrize(
    "planted",
    [
        "import monitoring_pipeline.steps",
        "from monitoring_pipeline import steps",
        "def later():\n    from monitoring_pipeline.steps.drift import drift_day",
    ],
    ids=["a module", "a package member", "inside a function"],
)
def test_the_check_sees_a_registry_module_importing_the_steps(planted: str) -> None:
    registry = PACKAGE / "registry" / "models.py"
    source = registry.read_text() + "\n\n" + planted + "\n"
    wrong = _upward_imports({registry: _imports(registry, source)})
    assert len(wrong) == 1 and wrong[0].startswith("monitoring_pipeline.registry.models (registry) imports")


def _layers_imported(layer: str) -> set[str | None]:
    return {_layer(module) for path in (PACKAGE / layer).rglob("*.py") for module in _imports(path)}


def test_the_registry_never_imports_the_steps_or_the_review_side() -> None:
    assert _layers_imported("registry") & {"steps", "review"} == set()


def test_the_demo_never_imports_the_command_line() -> None:
    assert "cli" not in _layers_imported("demo")


def test_core_imports_only_the_standard_library_numpy_polars_and_orjson() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        roots = {module.split(".")[0] for module in _imports(path)}
        assert roots - set(sys.stdlib_module_names) - CORE_MAY_IMPORT == set(), path
        assert {_layer(module) for module in _imports(path)} <= {None, "core"}, path


def test_nothing_below_defs_imports_dagster() -> None:
    for layer in BELOW_DEFS:
        for path in (PACKAGE / layer).rglob("*.py"):
            assert not any(m.split(".")[0] == "dagster" for m in _imports(path)), path


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_importing_a_layer_loads_nothing_above_it(layer: str) -> None:
    """The same rule at run time: what a layer's modules load, the package root included."""
    modules = sorted({_module_name(path) for path in (PACKAGE / layer).rglob("*.py")})
    above = list(LAYERS[LAYERS.index(layer) + 1 :])
    code = (
        f"import sys, {', '.join(modules)}\n"
        f"loaded = [m for m in sys.modules if m.split('.')[:2] in [['monitoring_pipeline', a] for a in {above!r}]]\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_pure_core_never_imports_dagster_or_great_expectations() -> None:
    stages = ", ".join(f"monitoring_pipeline.steps.{s.stem}" for s in (PACKAGE / "steps").glob("[!_]*.py"))
    code = (
        "import sys, monitoring_pipeline.core.drift.frames, monitoring_pipeline.core.contract, "
        f"monitoring_pipeline.core.config, {stages}, monitoring_pipeline.demo.generator; "
        "heavy = {'dagster', 'great_expectations'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
