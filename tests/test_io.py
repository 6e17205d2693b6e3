"""harness.io: atomic writes, and temporaries a killed writer left, recognised by their owner."""
from __future__ import annotations

from pool_fixtures import dead_pid
from harness.io import atomic_path, owner_tag, remove_stale, remove_stale_temps


def test_temporary_names_carry_their_owner(tmp_path):
    with atomic_path(tmp_path / "x.npy", suffix=".npy") as tmp:
        assert tmp.name.startswith(f".x.npy.{owner_tag()}.") and tmp.name.endswith(".tmp.npy")
        tmp.write_bytes(b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_only_a_dead_owners_temporaries_are_removed(tmp_path):
    host = owner_tag().split("-")[1]
    dead = f"{dead_pid()}-{host}"
    names = {
        f".x.json.{dead}.ab12cd_9.tmp": True,                    # a killed writer's: removed
        f".x.npy.{dead}.zz99aa00.tmp.npy": False,                # another target's: kept
        f".x.json.{owner_tag()}.ab12cd34.tmp": False,             # a live owner's (this process)
        f".x.json.{dead.split('-')[0]}-000000.ab12cd34.tmp": False,  # another host's: unknown, kept
        ".x.json.ab12cd34.tmp": False,                          # no owner in the name: kept
        "x.json": False, ".x.json": False, "notes.tmp": False,
    }
    for name in names:
        (tmp_path / name).write_text("partial")
    removed = remove_stale_temps(tmp_path / "x.json")
    assert sorted(p.name for p in removed) == [n for n, gone in names.items() if gone]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, gone in names.items() if not gone)
    # the folder's lock holder removes any owner's (no live process writes there), only its pattern
    removed = remove_stale_temps(tmp_path / "x.json", held=True)
    assert {p.name for p in removed} == {f".x.json.{owner_tag()}.ab12cd34.tmp",
                                         f".x.json.{dead.split('-')[0]}-000000.ab12cd34.tmp"}


def test_stale_directories_and_links(tmp_path):
    dead = f"{dead_pid()}-{owner_tag().split('-')[1]}"
    stage = tmp_path / f".lb.staging.{dead}.k3j4h5g6"
    (stage / "plots").mkdir(parents=True)
    (stage / "leaderboard.csv").write_text("partial")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    link = tmp_path / f".lb.staging.{dead}.linklink"
    link.symlink_to(outside, target_is_directory=True)
    removed = remove_stale(tmp_path, ".lb.staging.", end="")
    assert sorted(p.name for p in removed) == sorted([stage.name, link.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]
    assert (outside / "keep.txt").read_text() == "mine"  # a link is removed, never followed


def test_missing_folder_is_nothing_to_remove(tmp_path):
    assert remove_stale_temps(tmp_path / "nope" / "x.json") == []
