"""Pinned engine artifacts: fetched by Maven, refused on a wrong checksum, named when missing."""

from __future__ import annotations

import pytest

from lakehouse import engines


def _tsv(tmp_path, sha):
    path = tmp_path / "artifacts.tsv"
    path.write_text(
        "# tier\tname\tcoordinates\tsha256\n"
        f"spark\thudi-spark-bundle\torg.apache.hudi:hudi-spark3.5-bundle_2.12:0.15.0:jar\t{sha}\n"
    )
    return path


def test_every_pinned_artifact_is_fetched_and_matches_its_checksum():
    for path, wanted in zip(engines.fetch(), engines.load_artifacts(), strict=True):
        assert path.name == wanted.file_name
        assert engines.sha256_of(path) == wanted.sha256


def test_a_wrong_checksum_is_refused_naming_the_coordinates(tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "ARTIFACTS_TSV", _tsv(tmp_path, "0" * 64))
    monkeypatch.setenv("LAKEHOUSE_ENGINES_DIR", str(tmp_path / "cache"))
    # Reuse the already fetched jar through Maven's local repository: no second download.
    with pytest.raises(engines.EngineArtifactError, match="checksum mismatch for org.apache.hudi"):
        engines.fetch(["spark"])
    assert not (tmp_path / "cache" / "hudi-spark3.5-bundle_2.12-0.15.0.jar").exists()


def test_a_missing_artifact_names_its_coordinates_and_the_make_target(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ENGINES_DIR", str(tmp_path / "empty"))
    with pytest.raises(engines.EngineArtifactError) as error:
        engines.artifact_path("hudi-spark-bundle")
    assert "org.apache.hudi:hudi-spark3.5-bundle_2.12:0.15.0:jar" in str(error.value)
    assert "make engines" in str(error.value)


def test_a_malformed_line_is_named_by_file_and_line(tmp_path, monkeypatch):
    path = tmp_path / "artifacts.tsv"
    path.write_text("# header\nspark\tonly-two-fields\n")
    with pytest.raises(engines.EngineArtifactError, match=r"artifacts.tsv:2: expected 4"):
        engines.load_artifacts(path)


def test_an_archive_is_unpacked_once_with_its_top_folder_stripped(tmp_path, monkeypatch):
    import io
    import tarfile

    cache = tmp_path / "cache"
    cache.mkdir()
    archive = cache / "tool-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"#!/bin/sh\n"
        info = tarfile.TarInfo("tool-1.0/bin/run")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("tool-1.0/lib/run-again")  # a hard link, as Trino's tarball has
        link.type, link.linkname, link.mode = tarfile.LNKTYPE, "tool-1.0/bin/run", 0o755
        tar.addfile(link)
    digest = engines.sha256_of(archive)
    tsv = tmp_path / "artifacts.tsv"
    tsv.write_text(f"trino\ttool\torg.example:tool:1.0:tar.gz\t{digest}\n")
    monkeypatch.setattr(engines, "ARTIFACTS_TSV", tsv)
    monkeypatch.setenv("LAKEHOUSE_ENGINES_DIR", str(cache))
    with pytest.raises(engines.EngineArtifactError, match="not unpacked .*make engines"):
        engines.unpacked_path("tool")
    assert engines.fetch(["trino"]) == [archive]  # already there: checked, not downloaded
    home = engines.unpacked_path("tool")
    assert home == cache / "tool-1.0"
    assert (home / "bin" / "run").read_bytes() == (home / "lib" / "run-again").read_bytes()
    assert (home / "bin" / "run").stat().st_mode & 0o111
    # A different archive under the same name is unpacked again, never mixed with the old one.
    (home / engines.UNPACKED_MARKER).write_text("0" * 64)
    with pytest.raises(engines.EngineArtifactError, match="not unpacked"):
        engines.unpacked_path("tool")


def test_a_jdk_is_found_by_its_release_file(tmp_path, monkeypatch):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    (home / "release").write_text('IMPLEMENTOR="x"\nJAVA_VERSION="99.0.1"\n')
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert engines.java_feature_version(home) == 99
    assert engines.find_java_home(99) == home
    with pytest.raises(engines.EngineArtifactError, match="no JDK 100 or newer"):
        engines.find_java_home(100)
