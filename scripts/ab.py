#!/usr/bin/env python3
"""Side-by-side timing of a few commands, interleaved: round after round, every command once per
round (after its --prepare), so drift on a shared machine hits them all alike — which
hyperfine's consecutive runs of one command, then the next, do not. The first round (or the
first --warmup rounds) is a warm-up and is not counted. Prints each command's median, quartiles
and minimum, and its median as a ratio of the first command's; --export-json writes every time
in hyperfine's format (`results`: `command`, `times`, `median`, `mean`, `min`, `max`), which is
how scripts/bench.sh times everything.

  scripts/ab.py [-n ROUNDS] [--warmup W] [-N] [--export-json FILE] [--prepare CMD] NAME=COMMAND ...

Commands run with `sh -c`, and the time of `sh -c ''` itself (the median of 21 runs, measured
first) is subtracted from each, as hyperfine does; with -N they run without a shell, split into
words (no quoting, no redirection), and nothing is subtracted.

Example (two builds against cat, inputs re-read into the page cache before each run):

  scripts/ab.py -n 11 --prepare 'rm -f out.tar copy.tar; sync; cat big.tar kept.tar >/dev/null' \\
      'cat=cat kept.tar > copy.tar' \\
      'old=./ocislim-old filter big.tar -o out.tar -q --platform linux/amd64,linux/arm64' \\
      'new=target/release/ocislim filter big.tar -o out.tar -q --platform linux/amd64,linux/arm64'

Give --prepare once for every command, or once per command in the order of the commands (as
hyperfine does), so that each reads back only its own inputs. On a machine shared with other
work, prefixing each timed command with `chrt -f 50` (as root) keeps neighbours from
preempting it; put the same prefix on every command compared.

A command that fails stops the script.
"""
import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--rounds", type=int, default=9, help="counted rounds (default 9)")
    ap.add_argument("--prepare", action="append", default=[],
                    help="shell command run before every timed command; or one per command, in order")
    ap.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted (default 1)")
    ap.add_argument("-N", "--no-shell", action="store_true", help="run the commands without a shell")
    ap.add_argument("--export-json", metavar="FILE", help="write the times in hyperfine's JSON format")
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    cmds = []
    for c in args.commands:
        name, sep, cmd = c.partition("=")
        if not sep or not name or not cmd:
            ap.error(f"expected NAME=COMMAND, got {c!r}")
        cmds.append((name, cmd))
    if len(args.prepare) not in (0, 1, len(cmds)):
        ap.error(f"give --prepare once or once per command ({len(cmds)}), not {len(args.prepare)} times")
    prepares = args.prepare * len(cmds) if len(args.prepare) == 1 else args.prepare or [""] * len(cmds)
    if args.rounds < 1 or args.warmup < 0:
        ap.error("give at least one round and no negative warm-up")
    shell = 0.0 if args.no_shell else statistics.median(run("") for _ in range(21))
    times = {name: [] for name, _ in cmds}
    for rnd in range(args.warmup + args.rounds):
        for (name, cmd), prepare in zip(cmds, prepares):
            if prepare:
                subprocess.run(prepare, shell=True, check=True)
            dt = run(shlex.split(cmd) if args.no_shell else cmd)
            if dt is None:
                print(f"ab: {name} failed: {cmd}", file=sys.stderr)
                return 1
            if rnd >= args.warmup:
                times[name].append(max(dt - shell, 0.0))
    if args.export_json:
        export(args.export_json, times)
    base = statistics.median(times[cmds[0][0]])
    width = max(len(n) for n, _ in cmds)
    print(f"{'':{width}}  median      q1      q3     min  ratio to {cmds[0][0]}")
    for name, _ in cmds:
        v = sorted(times[name])
        q1, _, q3 = statistics.quantiles(v, n=4) if len(v) > 1 else (v[0], v[0], v[0])
        med = statistics.median(v)
        print(f"{name:{width}}  {med:6.3f}s {q1:6.3f}s {q3:6.3f}s {v[0]:6.3f}s  {med / base:5.2f}x")
    return 0


def run(cmd):
    """The wall time of one run of `cmd` (a shell command line, or a list of words run as they
    are), or None when it fails."""
    t = time.perf_counter()
    r = subprocess.run(cmd, shell=isinstance(cmd, str))
    dt = time.perf_counter() - t
    return dt if r.returncode == 0 else None


def export(path, times):
    """Every time, as hyperfine's --export-json writes them."""
    results = [{"command": name, "times": v, "median": statistics.median(v),
                "mean": statistics.fmean(v), "min": min(v), "max": max(v)}
               for name, v in times.items()]
    with open(path, "w") as f:
        json.dump({"results": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
