"""mogen's benchmark against its peers: `make bench` (tests/bench/run.sh).

Runs, one after another in this session, every contender on the same files
and the same transform, each in a fresh process (tests/bench/loaders.py),
then prints one table and writes the same figures as JSON.

    .venv/bin/python tests/bench/bench.py --build build [--json FILE] [--quick]

Workload A (skipped with a message when ../shared/data/clothing is absent):
the clothing photos (JPEG, about 400x533) to 224x224 RGB uint8 NHWC, batch
64, random flip + rotate (+-20 deg) + translate (+-10 %) + scale (0.9..1.1),
labels `label` and `kids` one-hot. Contenders: mogen (daemon + Python
client, zero-copy NumPy views), PyTorch DataLoader, Keras
ImageDataGenerator.flow_from_dataframe, SPDL when it is importable, and the
decode-only ceiling (build/bench/bench_ceiling: TurboJPEG on every CPU).

Workload B: Fashion-MNIST PNGs (28x28 gray), batch 64, flip only: per-batch
overhead dominates. mogen vs DataLoader.

Also: the RELEASE+NEXT round trip with batch_size 1 (the Python client with
its mailbox, step in C and in pure Python, and over the socket; the C
client), the 1,000,000-row CSV
load (build/bench/bench_csv) and the one-core decode vs decode+warp split (build/bench/bench_pipeline) when those exist.

Nothing printed is a constant: every figure comes from this run.
"""

import argparse
import csv
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CLOTHING = os.path.join(os.path.dirname(REPO), "shared", "data", "clothing")
FMNIST_DEMO = os.path.join(REPO, "demo-data", "fashion-mnist")
FMNIST_SOURCE = "/usr/share/datasets/fashion-mnist"

CLOTHING_AUG = {"flip": True, "rotate": 20, "translate": 0.1, "zoom": 0.1}

# Targets of issue 6.
TARGET_VS_TORCH = 3.0
TARGET_VS_KERAS = 10.0
TARGET_CEILING = 0.75
TARGET_RTT_US = 50.0

BUSY_FIELDS = ("user", "system", "nice", "irq", "softirq", "steal")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "ram_gb": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_at_start": os.getloadavg()[0]}


def git_commit():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def run_loader(spec, timeout):
    """Runs one contender in its own process group; returns its RESULT dict or
    {"error": ...}. Whatever the contender leaves behind (DataLoader workers,
    a daemon) is in that group and is terminated afterwards."""
    spec = dict(spec)
    load = os.getloadavg()[0]
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "loaders.py"), json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return {"error": f"timed out after {timeout} s", "loadavg_before": load}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for line in reversed(out.splitlines()):
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["loadavg_before"] = load
            return result
    tail = (err.strip().splitlines() or ["(no output)"])[-1]
    return {"error": tail[:300], "loadavg_before": load}


def run_tool(argv, timeout):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return None, str(e)
    if r.returncode != 0:
        return None, (r.stderr or r.stdout).strip()[-300:]
    return r.stdout, None


# -- data -------------------------------------------------------------------

def prepare_clothing(tmp):
    """Writes the clothing CSV without the rows whose file is missing, and the
    list of those files (for the ceiling); reads every file once so that all
    contenders start with the same warm page cache."""
    src = os.path.join(CLOTHING, "images.csv")
    root = os.path.join(CLOTHING, "images")
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if os.path.exists(os.path.join(root, r["image"] + ".jpg"))]
    path = os.path.join(tmp, "clothing.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "label", "kids"])
        for r in kept:
            w.writerow([r["image"], r["label"], r["kids"]])
    listing = os.path.join(tmp, "clothing-files.txt")
    with open(listing, "w") as f:
        for r in kept:
            p = os.path.join(root, r["image"] + ".jpg")
            f.write(p + "\n")
            with open(p, "rb") as g:
                g.read()
    return path, listing, len(rows), len(kept)


def prepare_fmnist(tmp, build, rows):
    """Returns (csv, image root, row count) for Fashion-MNIST: the demo's
    prepared PNGs when present, else a subset written into build/bench."""
    folder = FMNIST_DEMO
    if not os.path.exists(os.path.join(folder, "train.csv")):
        if not os.path.isdir(FMNIST_SOURCE):
            return None, None, 0
        folder = os.path.join(build, "bench", "fashion-mnist")
        log(f"writing {rows} Fashion-MNIST PNGs into {folder}")
        subprocess.run([sys.executable, os.path.join(REPO, "client", "python", "examples",
                                                     "prepare_fashion_mnist.py"),
                        "--out", folder, "--train", str(rows), "--validation", "64"],
                       check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, "train.csv"), newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = [r for _, r in zip(range(rows), reader)]
    path = os.path.join(tmp, "fmnist.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(body)
    root = os.path.join(folder, "images")
    for r in body:
        with open(os.path.join(root, r[0]), "rb") as g:
            g.read()
    return path, root, len(body)


# -- table ------------------------------------------------------------------

def fmt(v, spec="{:.0f}", missing="-"):
    return missing if v is None else spec.format(v)


def table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return "\n".join(out)


def workload_table(res, ceiling_key=None):
    ok = {k: v for k, v in res.items() if isinstance(v, dict) and "images_per_s" in v}
    mg = ok.get("mogen", {}).get("images_per_s")
    ceil = ok.get(ceiling_key, {}).get("images_per_s") if ceiling_key else None
    rows, notes = [], []
    for name, r in res.items():
        if not isinstance(r, dict):
            continue
        if "error" in r or "skipped" in r:
            notes.append(f"{name}: " + (r.get("skipped") or ("FAILED: " + r["error"])))
            continue
        ips = r["images_per_s"]
        if name == "mogen":
            ratio = "1.00x" + (f" ({mg / ceil:.0%} of ceiling)" if ceil else "")
        elif name == "mogen-rgb":
            ratio = f"{mg / ips:.2f}x" + (f" ({ips / ceil:.0%} of ceiling)" if ceil else "")
        else:
            ratio = f"{mg / ips:.2f}x" if mg and ips else "-"
        rows.append([
            name, f"{ips:.0f}", ratio, fmt(r.get("cpu_s_per_1000"), "{:.2f}"),
            fmt(r.get("consumer_peak_rss_mb")), fmt(r.get("producer_peak_pss_mb")),
            fmt(r.get("first_batch_s"), "{:.2f}"), str(r.get("workers", "-")),
            fmt(r.get("tree_cores"), "{:.2f}"), fmt(r.get("other_cores"), "{:.2f}")])
    return "\n".join([table(rows, ["loader", "images/s", "mogen/this", "CPU s/1k img",
                                   "consumer RSS MB", "producer PSS MB", "1st batch s",
                                   "procs", "cores used", "others' cores"])] + notes)


def summary(results):
    lines = []
    targets = []
    a = results.get("clothing", {})
    mg = (a.get("mogen") or {}).get("images_per_s")

    def check(name, value, target, ok):
        targets.append({"target": name, "value": value, "goal": target, "met": ok})
        lines.append(f"  [{'met ' if ok else 'MISS'}] {name}: {value} (goal {target})")

    if mg:
        for peer, goal in (("torch", TARGET_VS_TORCH), ("keras", TARGET_VS_KERAS)):
            v = (a.get(peer) or {}).get("images_per_s")
            if v:
                check(f"clothing mogen / {peer}", f"{mg / v:.2f}x", f">= {goal:g}x",
                      mg / v >= goal)
        c = (a.get("ceiling") or {}).get("images_per_s")
        if c:
            check("clothing mogen / decode-only ceiling", f"{mg / c:.0%}",
                  f">= {TARGET_CEILING:.0%}", mg / c >= TARGET_CEILING)
        reps = (a.get("mogen") or {}).get("reps") or []
        if len(reps) >= 2:
            g = reps[-1]["consumer_rss_mb"] - reps[0]["consumer_rss_mb"]
            d = reps[-1]["producer_pss_mb"] - reps[0]["producer_pss_mb"]
            n = sum(r["images"] for r in reps)
            check(f"consumer RSS growth over {n} images (~{n / 1990:.1f} epochs)",
                  f"{g:+.1f} MB", "flat (< 5 MB)", abs(g) < 5)
            check("daemon PSS growth over the same", f"{d:+.1f} MB", "flat (< 5 MB)",
                  abs(d) < 5)
    rtt = results.get("round_trip") or {}
    python_way = "mailbox, step in C" if rtt.get("python_accelerated") else "mailbox"
    for k, label in (("python_median_us", f"Python client ({python_way})"),
                     ("c_median_us", "C client (mailbox)")):
        if rtt.get(k) is not None:
            check(f"NEXT+RELEASE round trip, {label}, median", f"{rtt[k]:.1f} us",
                  f"< {TARGET_RTT_US:g} us", rtt[k] < TARGET_RTT_US)
    return lines, targets


def measure_ceiling(build, listing, reps, rep_s):
    """The decode-only ceiling (build/bench/bench_ceiling) over the files in
    listing: reps runs, the median images/s and CPU per 1,000 images."""
    exe = os.path.join(build, "bench", "bench_ceiling")
    if not os.access(exe, os.X_OK):
        return {"error": exe + " is not built"}
    runs, loadavg = [], os.getloadavg()[0]
    for _ in range(reps):
        s0 = psutil.cpu_times()
        out, err = run_tool([exe, listing, str(rep_s * 0.75)], 60)
        s1 = psutil.cpu_times()
        if out is None:
            return {"error": err}
        kv = dict(w.split("=", 1) for w in out.split()[1:] if "=" in w)
        busy = sum(getattr(s1, f) - getattr(s0, f) for f in BUSY_FIELDS)
        kv["other_cores"] = max(0.0, busy - float(kv["cpu_s"])) / float(kv["seconds"])
        kv["tree_cores"] = float(kv["cpu_s"]) / float(kv["seconds"])
        runs.append(kv)
    return {"images_per_s": statistics.median(float(k["images_per_s"]) for k in runs),
            "cpu_s_per_1000": statistics.median(1000 * float(k["cpu_s"]) / float(k["images"])
                                                for k in runs),
            "workers": int(runs[0]["procs"]),
            "tree_cores": statistics.median(k["tree_cores"] for k in runs),
            "other_cores": statistics.median(k["other_cores"] for k in runs),
            "runs": [float(k["images_per_s"]) for k in runs],
            "loadavg_before": loadavg}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    t_begin = time.monotonic()
    reps = 2 if args.quick else 3
    rep_s = 2.0 if args.quick else 4.0

    results = {"machine": machine(), "commit": git_commit(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
               "settings": {"reps": reps, "rep_seconds": rep_s, "warmup_batches": 3}}
    with tempfile.TemporaryDirectory(prefix="mogen-bench-") as tmp:
        common = {"build": build, "reps": reps, "rep_seconds": rep_s, "warmup": 3}

        # -- workload A: clothing photos ---------------------------------------
        a = {}
        if not os.path.exists(os.path.join(CLOTHING, "images.csv")):
            msg = f"skipped: {CLOTHING} is absent (the clothing photos live in ../shared)"
            log("clothing: " + msg)
            a["skipped"] = msg
        else:
            csv_path, listing, total, kept = prepare_clothing(tmp)
            log(f"clothing: {kept} of {total} rows have their file; "
                f"224x224 RGB uint8, batch 64, flip+rotate+translate+scale")
            spec = dict(common, csv=csv_path, root=os.path.join(CLOTHING, "images"),
                        suffix=".jpg", path_column="image", label_columns=["label", "kids"],
                        size=224, batch_size=64, augment=CLOTHING_AUG)
            a["rows"] = kept
            for name, timeout, extra in (("mogen", 180, {}),
                                         ("mogen-rgb", 180, {"jpeg_planes": False}),
                                         ("torch", 240, {}),
                                         ("keras", 240, {"rep_seconds": rep_s * 0.75,
                                                         "min_batches": 1, "warmup": 1}),
                                         ("spdl", 180, {})):
                if name == "spdl" and subprocess.run(
                        [sys.executable, "-c", "import spdl.io, spdl.pipeline"],
                        capture_output=True).returncode != 0:
                    a[name] = {"skipped": "skipped: spdl is not importable "
                                          "(see docs/performance.md)"}
                    log("clothing spdl: not importable, skipped")
                    continue
                log(f"clothing {name} ...")
                a[name] = run_loader(dict(spec, **extra, loader=name), timeout)
                log(f"clothing {name}: " + (
                    f"{a[name]['images_per_s']:.0f} images/s" if "images_per_s" in a[name]
                    else a[name].get("error", "?")))
                if name == "mogen":
                    # Right after mogen, so that the ratio's two terms are
                    # measured seconds apart, not minutes: the host drifts.
                    log("clothing decode-only ceiling ...")
                    a["ceiling"] = measure_ceiling(build, listing, reps, rep_s)
            a["ceiling"] = a.pop("ceiling")  # measured after mogen, shown last
            exe = os.path.join(build, "bench", "bench_pipeline")
            if os.access(exe, os.X_OK):
                out, err = run_tool([exe, os.path.join(CLOTHING, "images"), "3"], 60)
                one = {}
                if out:
                    for key, pat in (("decode_only", r"decode only:\s+([\d.]+)"),
                                     ("decode_planes", r"decode only, to planes:\s+([\d.]+)"),
                                     ("decode_warp_augment", r"decode \+ warp[^:]*:\s+([\d.]+)"),
                                     ("from_rgb", r"the same from RGB:\s+([\d.]+)"),
                                     ("to_float32_nchw",
                                      r"the same to float32 NCHW:\s*([\d.]+)")):
                        m = re.search(pat, out)
                        if m:
                            one[key + "_images_per_s"] = float(m.group(1))
                    one["output"] = out.strip()
                else:
                    one["error"] = err
                a["one_core_pipeline"] = one
        results["clothing"] = a

        # -- workload B: Fashion-MNIST ------------------------------------------
        b = {}
        f_csv, f_root, f_rows = prepare_fmnist(tmp, build, 20000)
        if f_csv is None:
            b["skipped"] = f"skipped: no {FMNIST_DEMO} and no {FMNIST_SOURCE}"
            log("fashion-mnist: " + b["skipped"])
        else:
            log(f"fashion-mnist: {f_rows} PNGs 28x28 gray, batch 64, flip")
            spec = dict(common, csv=f_csv, root=f_root, suffix="", path_column="image",
                        label_columns=["category", "group"], size=28, gray=True,
                        batch_size=64, augment={"flip": True}, max_batches=300)
            b["rows"] = f_rows
            for name in ("mogen", "torch"):
                log(f"fashion-mnist {name} ...")
                b[name] = run_loader(dict(spec, loader=name), 180)
                log(f"fashion-mnist {name}: " + (
                    f"{b[name]['images_per_s']:.0f} images/s" if "images_per_s" in b[name]
                    else b[name].get("error", "?")))
            log("round trip (batch_size 1) ...")
            results["round_trip"] = run_loader(
                dict(spec, loader="mogen_rtt", count=1000 if args.quick else 2000,
                     pause_us=2000), 180)
        results["fashion_mnist"] = b

        # -- the CSV loader -----------------------------------------------------
        exe = os.path.join(build, "bench", "bench_csv")
        if os.access(exe, os.X_OK):
            log("CSV load, 1,000,000 rows ...")
            out, err = run_tool([exe, "1000000"], 120)
            m = re.search(r"dataset_load ([\d.]+) s, peak RSS ([\d.]+) MB", out or "")
            results["csv_1m"] = ({"seconds": float(m.group(1)), "peak_rss_mb": float(m.group(2))}
                                 if m else {"error": err or (out or "").strip()[-200:]})
    results["wall_seconds"] = time.monotonic() - t_begin

    # -- report ------------------------------------------------------------------
    mch = results["machine"]
    print(f"\nmogen benchmark, commit {results['commit']}, {results['date']}")
    print(f"machine: {mch['nproc']} CPUs ({mch['cpu_model']}), {mch['ram_gb']} GB RAM, "
          f"load average at start {mch['loadavg_at_start']:.1f}")
    print(f"median of {reps} repetitions after warm-up; CPU s/1k img = CPU seconds of the "
          f"whole process tree (consumer + daemon/workers) per 1,000 images;\n"
          f"producer PSS = daemon + its workers (mogen) or DataLoader workers (torch), shared "
          f"pages counted once; 1st batch = loader start (mogen: daemon start) to first batch;"
          f"\ncores used = CPU of the tree / wall time; others' cores = CPU used meanwhile by "
          f"processes outside the benchmark (should be ~0).")
    if "skipped" in a:
        print("\nA. clothing photos: " + a["skipped"])
    else:
        print(f"\nA. clothing photos ({a['rows']} JPEGs ~400x533 -> 224x224 RGB uint8 NHWC, "
              f"batch 64, flip+rotate+translate+scale)")
        print(workload_table({k: a[k] for k in ("mogen", "mogen-rgb", "torch", "keras", "spdl",
                                                "ceiling") if k in a}, "ceiling"))
        print("mogen-rgb: mogen with image.jpeg_planes false (libjpeg converts whole images "
              "to RGB, as the ceiling does)")
        one = a.get("one_core_pipeline") or {}
        if "decode_only_images_per_s" in one:
            nan = float("nan")
            print(f"one core (build/bench/bench_pipeline): decode only "
                  f"{one['decode_only_images_per_s']:.0f} images/s (to YCbCr planes "
                  f"{one.get('decode_planes_images_per_s', nan):.0f}), decode + warp + augment "
                  f"{one.get('decode_warp_augment_images_per_s', nan):.0f} images/s "
                  f"(from RGB {one.get('from_rgb_images_per_s', nan):.0f}, to float32 NCHW "
                  f"{one.get('to_float32_nchw_images_per_s', nan):.0f})")
    if "skipped" in b:
        print("\nB. Fashion-MNIST: " + b["skipped"])
    else:
        print(f"\nB. Fashion-MNIST ({b['rows']} PNGs 28x28 gray, batch 64, flip)")
        print(workload_table({k: b[k] for k in ("mogen", "torch") if k in b}))
    rtt = results.get("round_trip")
    if rtt:
        print("\nNEXT+RELEASE round trip, batch_size 1, ring ready (2 ms pause between):")
        if "error" in rtt:
            print("  FAILED: " + rtt["error"])
        else:
            way = ("socket (no mailbox granted)" if not rtt.get("python_mailbox") else
                   "mailbox, step in C" if rtt.get("python_accelerated") else
                   "mailbox, pure Python: mogen._fastpath is not built")
            print(f"  Python client ({way}): median {rtt['python_median_us']:.1f} us, "
                  f"p90 {rtt['python_p90_us']:.1f} us; back to back "
                  f"{rtt['python_batches_per_s']:.0f} batches/s (runs: "
                  f"{', '.join(f'{v:.1f}' for v in rtt['python_runs_us'])})")
            if "python_pure_median_us" in rtt:
                print(f"  Python client, pure-Python mailbox (as without mogen._fastpath): "
                      f"median {rtt['python_pure_median_us']:.1f} us (runs: "
                      f"{', '.join(f'{v:.1f}' for v in rtt['python_pure_runs_us'])})")
            print(f"  Python client over the socket (mailbox=False): median "
                  f"{rtt['python_over_socket_median_us']:.1f} us (runs: "
                  f"{', '.join(f'{v:.1f}' for v in rtt['python_over_socket_runs_us'])})")
            print(f"  Python over the socket, RELEASE sent after the BATCH reply instead of "
                  f"before NEXT: median {rtt['python_next_first_median_us']:.1f} us")
            print(f"  floor: Python request/reply over a Unix socket pair to an echo process, "
                  f"same pacing: median {rtt['python_socket_floor_us']:.1f} us "
                  f"(runs alternated with the clients': "
                  f"{', '.join(f'{v:.1f}' for v in rtt['python_floor_runs_us'])})")
            if "c_median_us" in rtt:
                print(f"  C client (mailbox): median {rtt['c_median_us']:.1f} us, "
                      f"p90 {rtt['c_p90_us']:.1f} us; back to back "
                      f"{rtt.get('c_batches_per_s', float('nan')):.0f} batches/s (runs: "
                      f"{', '.join(f'{v:.1f}' for v in rtt['c_runs_us'])})")
                print(f"  C client over the socket (bench_rtt --no-mailbox): median "
                      f"{rtt['c_over_socket_median_us']:.1f} us (runs: "
                      f"{', '.join(f'{v:.1f}' for v in rtt['c_over_socket_runs_us'])})")
                print(f"  floor: C request/reply over a Unix socket pair to an echo process "
                      f"(bench_rtt --echo), same pacing: median {rtt['c_socket_floor_us']:.1f} us "
                      f"(runs alternated with the clients': "
                      f"{', '.join(f'{v:.1f}' for v in rtt['c_floor_runs_us'])})")
            else:
                print("  C client: " + rtt.get("c_error", "not run"))
            over = [f"{name} +{rtt[k]:.1f} us" for name, k in
                    (("Python over the socket", "python_over_floor_us"),
                     ("C over the socket", "c_over_floor_us")) if k in rtt]
            print("  above the floor (mogen's own part; steadier than the medians on a shared "
                  "host, so compare commits by it): " + ", ".join(over))
    c = results.get("csv_1m")
    if c:
        print("\n1,000,000-row CSV load (build/bench/bench_csv): " + (
            f"{c['seconds']:.3f} s, peak RSS {c['peak_rss_mb']:.0f} MB" if "seconds" in c
            else "FAILED: " + c["error"]))
    lines, targets = summary(results)
    results["targets"] = targets
    if lines:
        print("\ntargets (issue 6):")
        print("\n".join(lines))
    print(f"\nwhole run: {results['wall_seconds']:.0f} s")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
