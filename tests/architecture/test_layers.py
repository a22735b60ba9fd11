"""The package graph DESIGN.md draws: no import cycles, and layers only import downward."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2] / "distil"

# Higher layers may import lower ones, never the reverse (DESIGN.md, "Layout").
LAYERS = {
    "__main__": 10,  # `python -m distil`, the same as the `distil` command
    "cli": 9,
    "pipeline": 8,
    "reports": 7,
    "review": 6,
    "evaluation": 6,
    "labeling": 5,
    "target_models": 4,
    "datasets": 3,
    "store": 2,
    "base_models": 1,
    "sources": 1,
    "ontologies": 0.5,
    "detections": 0,
    "settings": 0,
    "errors": 0,
    "version": 0,
    "utils": 0,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """distil modules `path` imports anywhere (function bodies too), TYPE_CHECKING aside."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for statement in branch.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    edges = {}
    for name, path in files.items():
        # A package's own modules and parents are not dependencies between layers.
        edges[name] = {
            d
            for d in imports(path, known)
            if d != name and not d.startswith(name + ".") and not name.startswith(d + ".")
        }
    return edges


def layer(module: str) -> tuple[str, float]:
    top = module.split(".")[1] if module.count(".") else ""
    return top, LAYERS.get(top, 0 if top else 10)


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep) :] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_layers_point_down():
    upward = []
    for module, deps in graph().items():
        package, rank = layer(module)
        for dep in deps:
            dep_package, dep_rank = layer(dep)
            if dep_package != package and dep_rank > rank:
                upward.append(f"{module} -> {dep}")
    assert upward == []


@pytest.mark.parametrize("package", sorted(p for p in LAYERS if (ROOT / p).is_dir()))
def test_every_lazy_export_resolves(package):
    """Packages export their names lazily; each one must exist where it is said to be."""
    import importlib

    module = importlib.import_module(f"distil.{package}")
    for name in getattr(module, "__all__", []):
        assert getattr(module, name) is not None, f"distil.{package}.{name}"
