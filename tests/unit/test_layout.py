"""The layout's two rules, checked on the source tree: everything outside `serve_app/graph/`
imports with Ray absent, and no import cycle exists between modules or between packages."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("serve_app", "bench")


def modules(package: str) -> dict[str, Path]:
    """Dotted name -> file of every module of `package`."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Known modules that `name` imports anywhere in its file (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {n: p for pkg in PACKAGES for n, p in modules(pkg).items()}
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """The unit of the package-level check: a sub-package (`serve_app.routing`), or a module that
    sits directly in a top-level package (`serve_app.config`)."""
    parts = module.split(".")
    if (ROOT.joinpath(*parts[:2]) / "__init__.py").exists():
        return ".".join(parts[:2])
    return module


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        graph.setdefault(package_of(module), set()).update(
            package_of(t) for t in targets if package_of(t) != package_of(module)
        )
    assert cycles(graph) == []


def test_only_the_graph_package_imports_ray():
    offenders = []
    for name, path in modules("serve_app").items():
        if name == "serve_app.graph" or name.startswith("serve_app.graph."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            )
            offenders += [f"{name}: {n}" for n in names if n == "ray" or n.startswith("ray.")]
    assert offenders == []


def test_everything_outside_the_graph_imports_with_ray_absent():
    """In a fresh interpreter where `import ray` fails, import every other serve_app module."""
    names = [n for n in modules("serve_app") if not (n == "serve_app.graph" or n.startswith("serve_app.graph."))]
    script = (
        "import sys\n"
        "sys.modules['ray'] = None  # any `import ray...` now raises ImportError\n"
        "import importlib\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print('ok', len(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")
    assert len(names) > 30
