"""The layers the tree shows, held by a test: which package may import which, and which stay torch-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "edgedigits"
# what each layer may import from edgedigits (lazy imports inside functions included)
ALLOWED = {
    "core": {"core"},
    "runtime": {"core", "runtime"},
    "train": {"core", "runtime", "train"},
    "proof": {"core", "runtime", "proof", "train"},  # train only through proof/eager, where torch is here
    "export": {"core", "runtime", "train", "proof", "export"},
    "evaluation": {"core", "runtime", "train", "proof", "export", "evaluation"},
}
TORCH_FREE = ("core", "runtime", "proof")  # what a device without torch imports
HEAVY = {"torch", "torchvision", "onnx", "onnxscript", "executorch", "torchao", "openvino", "matplotlib"}
TORCH_ONLY = {PACKAGE / "proof" / "eager.py"}  # imported by verify/bench only where torch is installed


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def imports(path: Path, top_level_only: bool = False) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            if node.module == "edgedigits":
                out += [f"edgedigits.{a.name}" for a in node.names]
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_is_below_it(layer):
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules(layer)
        for name in imports(path)
        if name.startswith("edgedigits.")
        and name.split(".")[1] not in ALLOWED[layer] | {"__init__"}
        and name != "edgedigits.__version__"
    ]
    assert wrong == []


def test_nothing_in_the_product_imports_the_evaluation_tooling():
    product = [p for layer in ALLOWED if layer != "evaluation" for p in modules(layer)]
    product += [PACKAGE / "__init__.py", PACKAGE / "__main__.py"]
    assert [str(p) for p in product if any(n.startswith("edgedigits.evaluation") for n in imports(p))] == []


def test_the_cli_imports_only_core_at_the_top():
    top = [n for n in imports(PACKAGE / "cli.py", top_level_only=True) if n.startswith("edgedigits")]
    assert top and all(n.startswith("edgedigits.core") for n in top), top


@pytest.mark.parametrize("layer", TORCH_FREE)
def test_torch_free_layers_import_nothing_heavy_at_module_level(layer):
    heavy = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules(layer)
        if path not in TORCH_ONLY
        for name in imports(path, top_level_only=True)
        if name.split(".")[0] in HEAVY
    ]
    assert heavy == []


def test_torch_free_layers_import_with_torch_blocked_and_list_every_target():
    names = [
        "edgedigits." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for layer in TORCH_FREE
        for p in modules(layer)
        if p not in TORCH_ONLY
    ]
    code = (
        "import importlib, sys\n"
        "for m in ('torch', 'torchvision', 'onnx', 'onnxscript'): sys.modules[m] = None\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "from edgedigits.core import registry\n"
        "from edgedigits.core.targets import table\n"
        "print(len(registry.FORMATS), sorted(registry.backends()))\n"
        "print(table().plain())\n"
        "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, *table_lines = proc.stdout.splitlines()
    from edgedigits.core.registry import FORMATS

    assert first == (
        f"{len(FORMATS)} ['c', 'executorch', 'litert', 'mnn', 'ncnn', "
        "'onnxruntime', 'opencv', 'openvino', 'tflm']"
    )
    rows = [line.split()[1] for line in table_lines[1:] if not line.startswith(" ")]
    assert rows[: len(FORMATS)] == [f.name for f in FORMATS]
    assert "– torchscript " in proc.stdout and "pip install 'edgedigits[train]'" in proc.stdout
