"""A business's logo (businesses.csv `logo_path`): a name is the file next to businesses.csv, stored as its full
path, so a document finds it wherever the server runs; a logo that is not a readable image file of at most
512 KiB is refused at import, with its line, and nothing is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.db import connect
from engine.errors import ImportProblems
from engine.ingest.importer import import_folder
from engine.io.documents import seller_of
from engine.io.logos import MAX_LOGO_BYTES

PNG = b"\x89PNG\r\n\x1a\nlogo"


def _folder(root: Path, logo: str) -> Path:
    folder = root / "data"
    folder.mkdir()
    (folder / "businesses.csv").write_text(f"business_id,name,logo_path\nbiz-1,One Ltd,{logo}\nbiz-2,Two Ltd,\n")
    return folder


@pytest.fixture
def con():
    c = connect(":memory:")
    yield c
    c.close()


def test_a_logo_named_next_to_businesses_csv_is_found_from_anywhere(con, tmp_path, monkeypatch):
    folder = _folder(tmp_path, "logo.png")
    (folder / "logo.png").write_bytes(PNG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # where a server might run: not the imported folder
    import_folder(con, folder)
    stored = dict(con.execute("SELECT business_id, logo_path FROM businesses").fetchall())
    assert stored == {"biz-1": str((folder / "logo.png").resolve()), "biz-2": None}
    assert seller_of(con, "biz-1")["logo"].startswith("data:image/png;base64,")
    assert seller_of(con, "biz-2")["logo"] is None


def test_a_logo_given_by_its_full_path_is_kept(con, tmp_path):
    logo = tmp_path / "brand" / "mark.svg"
    logo.parent.mkdir()
    logo.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    import_folder(con, _folder(tmp_path, str(logo)))
    assert con.execute("SELECT logo_path FROM businesses WHERE business_id = 'biz-1'").fetchone()[0] == str(logo)
    assert seller_of(con, "biz-1")["logo"].startswith("data:image/svg+xml;base64,")


@pytest.mark.parametrize("case", ["missing", "too large", "a folder"])
def test_a_logo_that_cannot_serve_is_refused_with_its_line_and_nothing_is_imported(con, tmp_path, case):
    folder = _folder(tmp_path, "logo.png")
    if case == "too large":
        (folder / "logo.png").write_bytes(PNG + b"\0" * MAX_LOGO_BYTES)
    elif case == "a folder":
        (folder / "logo.png").mkdir()
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    (problem,) = caught.value.problems
    assert (problem["file"], problem["line"], problem["column"]) == ("businesses.csv", 2, "logo_path")
    assert problem["reason"].startswith("'logo.png': no readable image file of at most 512 KiB")
    assert con.execute("SELECT count(*) FROM businesses").fetchone()[0] == 0
