"""The output contract (snncompile.outputs), tested on the module itself: no CLI, no torch."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from snncompile.outputs import MANIFEST, OutputError, read_manifest, write_directory, write_file


def test_file_is_written_atomically_with_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_file(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o640
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_replaced_file_keeps_its_mode(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    os.chmod(p, 0o604)
    write_file(p, b"new")
    assert p.read_text() == "new" and stat.S_IMODE(os.stat(p).st_mode) == 0o604


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OutputError, match="symbolic link"):
        write_file(tmp_path / "link", "x")
    assert target.read_text() == "keep" and os.path.islink(tmp_path / "link")


def test_a_fifo_a_device_and_a_directory_are_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError, match="FIFO"):
        write_file(tmp_path / "fifo", "x")
    with pytest.raises(OutputError, match="character device"):
        write_file("/dev/null", "x")
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="directory"):
        write_file(tmp_path / "d", "x")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_a_second_writer_of_the_same_file_fails_cleanly(tmp_path):
    started, release, errors = threading.Event(), threading.Event(), []

    def slow(fh):
        started.set()
        release.wait(10)
        fh.write(b"first")

    t = threading.Thread(target=lambda: write_file(tmp_path / "out", slow))
    t.start()
    started.wait(10)
    try:
        write_file(tmp_path / "out", b"second")
    except OutputError as e:
        errors.append(str(e))
    release.set()
    t.join()
    assert errors and "another snncompile run" in errors[0]
    assert (tmp_path / "out").read_bytes() == b"first"


def test_an_interrupted_write_leaves_nothing_and_the_old_file_intact(tmp_path):
    (tmp_path / "out").write_text("old")

    def interrupted(fh):
        fh.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_file(tmp_path / "out", interrupted)
    assert os.listdir(tmp_path) == ["out"] and (tmp_path / "out").read_text() == "old"


def _fill(w):
    w.file("a.json", "{}")
    w.file("b.bin", b"\0")


def test_a_directory_is_marked_and_replaced_only_with_force(tmp_path):
    out = tmp_path / "net"
    write_directory(out, _fill, kind="lowered")
    m = read_manifest(out)
    assert m["tool"] == "snncompile" and m["kind"] == "lowered" and m["files"] == ["a.json", "b.bin"]
    with pytest.raises(OutputError, match="already exists"):
        write_directory(out, _fill, kind="lowered")
    write_directory(out, lambda w: w.file("c.txt", "c"), kind="lowered", force=True)
    assert sorted(os.listdir(out)) == ["c.txt", MANIFEST]
    assert sorted(os.listdir(tmp_path)) == ["net"]


def test_force_never_replaces_a_folder_of_user_files(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match="not written by snncompile"):
        write_directory(user, _fill, kind="lowered", force=True)
    assert (user / "thesis.tex").read_text() == "years of work"


def test_force_never_replaces_a_marked_folder_holding_user_files(tmp_path):
    out = tmp_path / "net"
    write_directory(out, _fill, kind="lowered", products=["ledger.json"])
    (out / "ledger.json").write_text("{}")  # a declared product: fine
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="notes.txt"):
        write_directory(out, _fill, kind="lowered", force=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_the_working_directory_and_its_parents_are_never_replaced(tmp_path, monkeypatch):
    work = tmp_path / "work"
    write_directory(work, _fill, kind="lowered")  # even a marked one
    monkeypatch.chdir(work)
    for target in (".", str(tmp_path / "work"), str(tmp_path)):
        with pytest.raises(OutputError, match="current directory"):
            write_directory(target, _fill, kind="lowered", force=True)
    assert sorted(os.listdir(work)) == ["a.json", "b.bin", MANIFEST]


def test_a_directory_created_meanwhile_is_not_replaced(tmp_path):
    out = tmp_path / "net"

    def fill(w):
        w.file("a.json", "{}")
        out.mkdir()  # someone else creates the target while we write
        (out / "theirs").write_text("x")

    with pytest.raises(OutputError, match="created by someone else"):
        write_directory(out, fill, kind="lowered")
    assert os.listdir(out) == ["theirs"] and sorted(os.listdir(tmp_path)) == ["net"]


def test_an_empty_directory_created_meanwhile_is_not_replaced_either(tmp_path):
    out = tmp_path / "net"
    with pytest.raises(OutputError, match="created by someone else"):
        write_directory(out, lambda w: (w.file("a", "1"), out.mkdir()), kind="lowered")
    assert os.listdir(out) == []


def test_an_interrupted_directory_leaves_no_temporary(tmp_path):
    def fill(w):
        w.file("a.json", "{}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_directory(tmp_path / "net", fill, kind="lowered")
    assert os.listdir(tmp_path) == []


def test_a_symlink_planted_inside_a_directory_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "ledger.json").symlink_to(victim)
    (folder / ".core_load.png.snncompile-tmp").symlink_to(victim)  # a planted temporary name
    with pytest.raises(OutputError, match="symbolic link"):
        write_file(folder / "ledger.json", "x")
    with pytest.raises(OutputError):
        write_file(folder / "core_load.png", b"png")
    assert victim.read_text() == "keep"


def test_a_symlinked_output_directory_is_refused_by_force(tmp_path):
    real = tmp_path / "real"
    write_directory(real, _fill, kind="lowered")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(OutputError, match="symbolic link"):
        write_directory(tmp_path / "link", _fill, kind="lowered", force=True)
    assert read_manifest(real) is not None


def test_sigterm_during_a_directory_write_leaves_nothing(tmp_path):
    """SIGTERM raises Terminated (snncompile.interrupts) inside the write; the temporary goes."""
    import signal

    from snncompile.interrupts import Terminated, signals_as_exceptions

    def fill(w):
        w.file("network.json", "{}")
        os.kill(os.getpid(), signal.SIGTERM)

    with signals_as_exceptions(), pytest.raises(Terminated):
        write_directory(tmp_path / "net.loihi", fill, kind="lowered")
    assert os.listdir(tmp_path) == []
