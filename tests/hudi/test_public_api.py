"""Code outside lakehouse/hudi uses the Hudi package only through its public API: the names in
`lakehouse.hudi.__all__` and the modules in PUBLIC_MODULES (CLI, DeltaStreamer, EMR),
never a table internal such as lakehouse.hudi.timeline or a `_private` name. And the other way
round: the package imports nothing from the rest of `lakehouse` (storage and settings are given
to it)."""

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


def imported_modules(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, name) for every module the file imports and every name it imports from one, as
    `module.name` (a name may be a submodule: `from lakehouse import settings`)."""
    found = []
    tree = ast.parse(path.read_text() if text is None else text, str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def lakehouse_imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import of lakehouse outside lakehouse.hudi."""
    return [
        (line, module)
        for line, module in imported_modules(path, text)
        if (module == "lakehouse" or module.startswith("lakehouse."))
        and module != "lakehouse.hudi"
        and not module.startswith("lakehouse.hudi.")
    ]


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


def _scan(paths: list[Path], imports) -> list[str]:
    """`path:line: module` for each import `imports` finds, over at least 20 files (so the
    scan sees the code base)."""
    assert len(paths) > 20
    found = {
        f"{p.relative_to(LAKEHOUSE.parent)}:{line}: {what}"
        for p in paths
        for line, what in imports(p)
    }
    return sorted(found)


def test_code_outside_the_package_imports_only_its_public_api():
    outside = [p for p in sorted(LAKEHOUSE.rglob("*.py")) if PACKAGE not in p.parents]
    found = _scan(outside, hudi_imports)
    assert not found, "imports of lakehouse.hudi internals:\n" + "\n".join(found)


def test_the_scan_sees_internal_imports():
    """The checker itself: each form of import of an internal is caught, public ones are not."""
    probe = (
        "from lakehouse.hudi.timeline import Timeline\n"
        "import lakehouse.hudi.files\n"
        "from lakehouse.hudi import table\n"
        "from lakehouse.hudi import HudiTable, emr\n"
        "from lakehouse.hudi.deltastreamer import run\n"
        "from ..hudi.table_storage import Storage\n"
        "from ..hudi import Timeline as T\n"
        "from lakehouse import hudi\n"
    )
    assert hudi_imports(LAKEHOUSE / "catalog" / "probe.py", probe) == [
        (1, "lakehouse.hudi.timeline"),
        (2, "lakehouse.hudi.files"),
        (3, "lakehouse.hudi.table"),
        (6, "lakehouse.hudi.table_storage"),
    ]


def test_the_public_names_exist_and_none_is_private():
    for name in hudi.__all__:
        assert not name.startswith("_")
        assert hasattr(hudi, name), name
    for name in hudi.PUBLIC_MODULES:
        assert (PACKAGE / f"{name}.py").is_file(), name


def test_the_package_imports_nothing_from_the_rest_of_lakehouse():
    found = _scan(sorted(PACKAGE.rglob("*.py")), lakehouse_imports)
    assert not found, "lakehouse.hudi imports the rest of lakehouse:\n" + "\n".join(found)


def test_the_scan_sees_imports_of_the_rest_of_lakehouse():
    probe = (
        "from lakehouse.engines import artifact_path\n"
        "import lakehouse.settings\n"
        "from lakehouse import storage\n"
        "from .. import settings\n"
        "from ..storage import filesystem\n"
        "from lakehouse.hudi.config import HudiError\n"
        "from . import timeline\n"
        "from lakehouse.hudi_spark import session\n"
        "from lakehouse import hudi\n"
        "def f():\n"
        "    from lakehouse.settings import setting\n"
    )
    lines = {line for line, _ in lakehouse_imports(PACKAGE / "probe.py", probe)}
    assert lines == {1, 2, 3, 4, 5, 8, 11}
