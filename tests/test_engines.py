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
