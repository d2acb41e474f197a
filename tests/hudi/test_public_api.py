"""Code outside lakehouse/hudi uses the Hudi package only through its public API: the names in
`lakehouse.hudi.__all__` and the modules in PUBLIC_MODULES (CLI, DeltaStreamer, EMR, Spark),
never a table internal such as lakehouse.hudi.timeline or a `_private` name."""

from __future__ import annotations

import ast
from pathlib import Path

import lakehouse.hudi as hudi

PACKAGE = Path(hudi.__file__).parent
LAKEHOUSE = PACKAGE.parent


def _module_of(path: Path) -> str:
    parts = path.relative_to(LAKEHOUSE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an import-from names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _public(name: str) -> bool:
    return name in hudi.__all__ or name in hudi.PUBLIC_MODULES


def hudi_imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, what) for every import from lakehouse.hudi the file makes that is not public."""
    bad = []
    tree = ast.parse(path.read_text() if text is None else text, str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            if module == "lakehouse.hudi":
                names = [a.name for a in node.names if not _public(a.name)]
                bad += [(node.lineno, f"lakehouse.hudi.{name}") for name in names]
                continue
            if module == "lakehouse":
                modules = [(node.lineno, f"lakehouse.{a.name}") for a in node.names]
            else:
                modules = [(node.lineno, module)]
        else:
            continue
        for line, module in modules:
            if module.startswith("lakehouse.hudi."):
                submodule = module.split(".")[2]
                if submodule not in hudi.PUBLIC_MODULES:
                    bad.append((line, module))
    return bad


def test_code_outside_the_package_imports_only_its_public_api():
    outside = [p for p in sorted(LAKEHOUSE.rglob("*.py")) if PACKAGE not in p.parents]
    assert len(outside) > 20  # the scan sees the code base
    found = {
        f"{p.relative_to(LAKEHOUSE.parent)}:{line}: {what}"
        for p in outside
        for line, what in hudi_imports(p)
    }
    assert not found, "imports of lakehouse.hudi internals:\n" + "\n".join(sorted(found))


def test_the_scan_sees_internal_imports():
    """The checker itself: each form of import of an internal is caught, public ones are not."""
    probe = (
        "from lakehouse.hudi.timeline import Timeline\n"
        "import lakehouse.hudi.files\n"
        "from lakehouse.hudi import table\n"
        "from lakehouse.hudi import HudiTable, spark\n"
        "from lakehouse.hudi.deltastreamer import run\n"
        "from ..hudi.storage import Storage\n"
        "from ..hudi import Timeline as T\n"
        "from lakehouse import hudi\n"
    )
    assert hudi_imports(LAKEHOUSE / "catalog" / "probe.py", probe) == [
        (1, "lakehouse.hudi.timeline"),
        (2, "lakehouse.hudi.files"),
        (3, "lakehouse.hudi.table"),
        (6, "lakehouse.hudi.storage"),
    ]


def test_the_public_names_exist_and_none_is_private():
    for name in hudi.__all__:
        assert not name.startswith("_")
        assert hasattr(hudi, name), name
    for name in hudi.PUBLIC_MODULES:
        assert (PACKAGE / f"{name}.py").is_file(), name
