"""Sample a running Serve replica with py-spy while load runs, and summarise where its CPU goes
(own time by function, and time under each of a few interesting frames)."""

import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil


def replica_pid(name_fragment: str) -> int | None:
    """PID of this run's replica whose process title contains `name_fragment`."""
    for proc in psutil.Process().children(recursive=True):
        try:
            if name_fragment in " ".join(proc.cmdline()):
                return proc.pid
        except psutil.Error:
            continue
    return None


def pyspy_binary() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def start(pid: int, seconds: int) -> tuple[subprocess.Popen, Path] | None:
    binary = pyspy_binary()
    if binary is None:
        return None
    out = Path(tempfile.mkdtemp()) / "stacks.txt"
    proc = subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, out


def summarise(path: Path, top: int = 12) -> str:
    """Collapsed stacks -> 'share of samples' for the hottest leaf functions and for some frames."""
    own, under, total = collections.Counter(), collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n, frames = int(count), stack.split(";")
        total += n
        own[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames if _interesting(f)}:
            under[frame] += n
    if not total:
        return "(py-spy collected no samples)"
    lines = [f"{total} samples; own time by function:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("time under tier-router and Serve frames (inclusive):")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in under.most_common(top)]
    return "\n".join(lines)


def _interesting(frame: str) -> bool:
    return any(k in frame for k in ("serve_app/", "serve/_private/", "fastapi/", "starlette/"))


def _short(frame: str) -> str:
    """'func (path/to/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "serve_app/", "lib/python3"):
        if marker in where:
            where = where[where.index(marker) :].removeprefix("site-packages/")
            break
    return f"{name} ({where})" if where else name
