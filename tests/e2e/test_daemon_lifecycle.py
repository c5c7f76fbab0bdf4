"""mogend's life cycle: start, refuse a second instance, take over a stale
socket, stop cleanly on SIGTERM at any moment, leak nothing."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

from harness import BUILD, SANITIZED, Mogend, binary, make_images, write_csv
import mogen  # noqa: E402  (harness puts client/python on sys.path)


@pytest.fixture
def dataset(tmp_path):
    names = make_images(tmp_path / "images", 40)
    write_csv(tmp_path / "train.csv", ["image", "label"],
              [[n, "ab"[i % 2]] for i, n in enumerate(names)])
    return tmp_path


def config(root, **extra):
    cfg = {
        "image": {"size": [16, 16]},
        "path": {"root": str(root / "images")},
        "outputs": {"multi_class": [{"label_output": "label"}]},
        "streams": {"train": {"csv": str(root / "train.csv"), "batch_size": 8}},
        "ring_slots": 3,
    }
    cfg.update(extra)
    return cfg


def test_socket_and_named_memory_are_private_and_removed_at_stop(dataset):
    shm = dataset / "shm"
    shm.mkdir()
    with Mogend(dataset, config(dataset, shm_dir=str(shm)), workers=1) as d:
        mode = stat.S_IMODE(os.stat(d.socket).st_mode)
        assert mode == 0o660, oct(mode)
        files = list(shm.iterdir())
        assert len(files) == 1 and "train" in files[0].name
        assert stat.S_IMODE(files[0].stat().st_mode) & 0o007 == 0, "shm is world-accessible"
        c = mogen.Client(d.socket, "train", want_fd=False)   # maps the named file
        x, y, info = c.next_batch()
        assert info["size"] == 8 and x.std() > 0
        c.close()
        d.stop()
    assert list(shm.iterdir()) == []


def test_second_instance_on_the_same_socket_refuses_to_start(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        second = subprocess.run([str(binary("mogend")), "--config", str(d.config_path)],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "another mogend is already serving on" in second.stderr
        assert os.path.exists(d.socket), "the refused instance must not remove the socket"
        mogen.status(d.socket)   # the first one still answers


def test_socket_in_a_missing_directory_is_named_before_the_load(dataset):
    """libuv reports bind() in a missing directory as EACCES ("permission
    denied"), which would send the reader the wrong way: mogend names the
    missing directory instead, before loading anything, and `mogenctl
    validate` warns of it (a warning: systemd creates /run/mogen only as the
    service starts)."""
    cfg = config(dataset, socket=str(dataset / "nodir" / "x" / "mogen.sock"))
    path = dataset / "mogend.json"
    # A CSV that is not there: an error about it would mean the load ran.
    path.write_text(json.dumps(dict(cfg, streams={"train": {"csv": str(dataset / "gone.csv")}})))
    run = subprocess.run([str(binary("mogend")), "--config", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    missing = str(dataset / "nodir" / "x")
    assert f"the socket's directory {missing} does not exist" in run.stderr, run.stderr
    assert "permission denied" not in run.stderr.lower()
    assert "gone.csv" not in run.stderr, "the check comes before the load"
    path.write_text(json.dumps(cfg))
    check = subprocess.run([str(binary("mogenctl")), "validate", str(path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout
    assert f"warning: socket: the socket's directory {missing} does not exist" in check.stdout


def test_socket_path_too_long_for_a_unix_socket_is_refused_by_both(dataset):
    """validate said OK for a socket path over 107 bytes, which mogend refuses."""
    long_dir = dataset / ("d" * 60) / ("e" * 60)
    long_dir.mkdir(parents=True)
    cfg = config(dataset, socket=str(long_dir / "mogen.sock"))
    path = dataset / "mogend.json"
    path.write_text(json.dumps(cfg))
    run = subprocess.run([str(binary("mogend")), "--config", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "bytes a Unix socket allows" in run.stderr, run.stderr
    check = subprocess.run([str(binary("mogenctl")), "validate", str(path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 1, check.stdout
    assert "error: socket: socket path" in check.stdout, check.stdout


def test_unknown_socket_group_is_refused_before_the_load(dataset):
    """mogend refused a socket_group that is not a group only at the bind,
    after the load, and `mogenctl validate` said it would start."""
    cfg = config(dataset, socket=str(dataset / "mogen.sock"), socket_group="no-such-group-here")
    path = dataset / "mogend.json"
    path.write_text(json.dumps(dict(cfg, streams={"train": {"csv": str(dataset / "gone.csv")}})))
    run = subprocess.run([str(binary("mogend")), "--config", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    assert 'socket_group "no-such-group-here" is not a group on this system' in run.stderr
    assert "gone.csv" not in run.stderr, "the check comes before the load"
    path.write_text(json.dumps(cfg))
    check = subprocess.run([str(binary("mogenctl")), "validate", str(path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 1, check.stdout
    assert 'error: socket_group "no-such-group-here" is not a group' in check.stdout


def test_stale_socket_from_a_crash_is_taken_over(dataset):
    path = str(dataset / "mogen.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()   # the file stays, nobody listens: what a crash leaves
    assert os.path.exists(path)
    with Mogend(dataset, config(dataset), workers=1) as d:
        assert mogen.status(d.socket)["streams"][0]["rows"] == 40
        log = d.stop()
    assert "removed a stale socket" in log


def test_sigterm_during_load_leaves_no_socket_and_no_memory(tmp_path):
    # A big CSV whose load (one stat per row) takes a while.
    with open(tmp_path / "train.csv", "w") as f:
        f.write("image,label\n")
        for i in range(1_500_000):
            f.write(f"missing/{i:07d}.png,{i % 7}\n")
    shm = tmp_path / "shm"
    shm.mkdir()
    d = Mogend(tmp_path, config(tmp_path, shm_dir=str(shm)), workers=1, wait=False)
    time.sleep(0.5)
    assert d.proc.poll() is None, "the load finished too fast to test this:\n" + d.logs()
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(timeout=30)
    d.log.close()
    assert not os.path.exists(d.socket)
    assert list(shm.iterdir()) == []


def test_clients_are_told_the_daemon_is_stopping(dataset):
    """At SIGTERM every client gets ERROR shutting_down before its connection
    closes: the Python client raises ShuttingDown (a DaemonGone) instead of
    a bare "Broken pipe", although its next write fails before it reads that
    ERROR. (libmogen's side: tests/unit/test_client_socket.c.) A batch
    already posted in the client's mailbox is still its to take (the memory
    stays mapped): then the request after it raises."""
    for mailbox in (False, True):
        with Mogend(dataset, config(dataset), workers=1) as d:
            c = mogen.Client(d.socket, "train", mailbox=mailbox)
            c.next_batch()
            time.sleep(0.1)  # the next batch is posted, with a mailbox
            d.stop()
            with pytest.raises(mogen.ShuttingDown, match="mogend is stopping") as caught:
                c.next_batch()
                if mailbox:
                    c.next_batch()
            assert isinstance(caught.value, mogen.DaemonGone)
            c.close()


def test_sigterm_while_serving_exits_zero_and_reaps_workers(dataset):
    d = Mogend(dataset, config(dataset), workers=2)
    workers = d.worker_pids()
    assert len(workers) == 2
    c = mogen.Client(d.socket, "train", mailbox=False)
    c.next_batch()   # holds a slot while the daemon stops
    d.stop()         # asserts exit 0 and no socket
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z", f"worker {pid} survived"
    with pytest.raises(mogen.MogenError):
        c.next_batch()
    c.close()


def test_workers_run_as_batch_jobs_and_the_main_process_does_not(dataset):
    # SCHED_BATCH: a worker's wake-up does not preempt the event loop or the trainer.
    with Mogend(dataset, config(dataset), workers=2) as d:
        workers = d.worker_pids()
        assert [os.sched_getscheduler(pid) for pid in workers] == [os.SCHED_BATCH] * 2
        assert os.sched_getscheduler(d.proc.pid) == os.SCHED_OTHER


def test_help_and_bad_flags(dataset):
    out = subprocess.run([str(binary("mogend")), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--config FILE" in out.stdout and "SIGTERM" in out.stdout
    out = subprocess.run([str(binary("mogend"))], capture_output=True, text=True)
    assert out.returncode == 2 and "missing --config FILE" in out.stderr and "usage" in out.stderr
    out = subprocess.run([str(binary("mogend")), "conf.json"], capture_output=True, text=True)
    assert out.returncode == 2
    assert 'unexpected argument "conf.json" (the config is given with --config FILE)' in out.stderr
    out = subprocess.run([str(binary("mogend")), "--config", "x", "--workers", "many"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "--workers" in out.stderr
    out = subprocess.run([str(binary("mogend")), "--config", str(dataset / "nope.json")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "nope.json" in out.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
@pytest.mark.skipif(SANITIZED, reason="valgrind cannot run an ASan binary (the plain build's run checks it)")
def test_start_serve_stop_cycle_is_clean_under_valgrind(dataset):
    cfg = config(dataset, socket=str(dataset / "mogen.sock"), workers=1)
    (dataset / "mogend.json").write_text(json.dumps(cfg))
    log = dataset / "valgrind.log"
    proc = subprocess.Popen(
        ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
         "--child-silent-after-fork=yes", f"--log-file={log}",
         str(binary("mogend")), "--config", str(dataset / "mogend.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Ready means accepting: the socket file exists from bind(), a moment
    # before listen(), and under valgrind that moment is long.
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "mogend under valgrind never accepted"
        try:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(cfg["socket"])
            probe.close()
            break
        except OSError:
            probe.close()
            time.sleep(0.1)
    c = mogen.Client(cfg["socket"], "train", timeout=60)
    for _ in range(6):   # crosses an epoch end (5 batches per epoch)
        c.next_batch()
    mogen.status(cfg["socket"])
    c.close()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    report = log.read_text()
    assert proc.returncode == 0, report + out
    assert "ERROR SUMMARY: 0 errors" in report, report
    assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report, report
