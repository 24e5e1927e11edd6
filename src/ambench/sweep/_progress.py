"""The one progress loop of a sweep, whatever runs the cells.

It counts file names in the results folder (one directory listing per folder and tick, no file
read or parsed: the old display validated every stored cell three times a second, 11.6 s of CPU
in a profiled study); the final counts come from the validating store. On a terminal a live
table; without one (nohup, a SLURM driver, CI) a plain line at most every `every_s` seconds,
so logs show progress without flooding.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

COLUMNS = ("done", "running", "failed", "queued")
LOG_EVERY_S = 10.0


def names(folder: Path) -> set[str]:
    """Stems of the *.json files in `folder` (empty when it does not exist): a listing, no reads."""
    try:
        with os.scandir(folder) as entries:
            return {e.name[:-5] for e in entries if e.name.endswith(".json")}
    except FileNotFoundError:
        return set()


def written_since(folder: Path, keys: set[str], since_ns: int) -> set[str]:
    """Those of `keys` whose `folder/<key>.json` was written at or after `since_ns` (one stat each)."""
    out = set()
    for key in keys:
        try:
            if (folder / f"{key}.json").stat().st_mtime_ns >= since_ns:
                out.add(key)
        except FileNotFoundError:
            continue
    return out


def count(root: Path, keys: set[str], *, redo: frozenset[str] = frozenset(), since_ns: int = 0) -> dict[str, int]:
    """done / running / failed / queued among `keys` from the names in cells/, failed/ and
    running/ (a marker whose process is gone counts as running until the final count). A cell
    in `redo` (stored, and being computed again: --force, --rerun-outdated, a changed default)
    counts as done only once its file was written since `since_ns`."""
    present = names(root / "cells") & keys
    done = (present - redo) | written_since(root / "cells", present & redo, since_ns)
    failed = (names(root / "failed") & keys) - done
    running = (names(root / "running") & keys) - done - failed
    return {"done": len(done), "running": len(running), "failed": len(failed),
            "queued": len(keys) - len(done) - len(failed) - len(running)}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Counts of one sweep's cells over time: `tick()` while an executor works, `close()` once.
    `stored` counts the cells stored since the start, `rate` their number per second."""

    def __init__(self, name: str, root: Path, keys: set[str], *, console: Console, every_s: float = LOG_EVERY_S,
                 clock=time.monotonic, todo: set[str] = frozenset()):
        self.name, self.root, self.keys, self.console, self.every_s, self.clock = \
            name, Path(root), set(keys), console, every_s, clock
        # the cells to compute that are stored already (--force, --rerun-outdated, a changed default):
        # done again only once rewritten
        self.redo, self.since_ns = frozenset(todo) & self.keys & names(self.root / "cells"), time.time_ns()
        self.start = clock()
        self.counts = self._count()
        self.before = self.counts["done"]
        self.last_line = -float("inf")
        self.live = None
        if console.is_terminal:
            self.live = Live(self.table(), console=console, refresh_per_second=2, transient=False)
            self.live.start()

    def _count(self) -> dict[str, int]:
        return count(self.root, self.keys, redo=self.redo, since_ns=self.since_ns)

    def line(self) -> str:
        """`sweep NAME: done/total done, N stored, F failed, R running, rate, time left`."""
        c, total = self.counts, len(self.keys)
        stored, elapsed = c["done"] - self.before, max(self.clock() - self.start, 1e-9)
        rate = stored / elapsed
        left = total - c["done"] - c["failed"]
        eta = _duration(left / rate) if rate > 0 else "?"
        return (f"sweep {self.name}: {c['done']}/{total} done, {stored} stored, {c['failed']} failed, "
                f"{c['running']} running, {rate * 60:.3g} cells/min, {eta} left")

    def table(self) -> Group:
        """The progress line (wrapped at the console's width, not the table's), then four short
        numeric columns that never wrap (within 80 columns for any count below 10^9)."""
        table = Table()
        for col in COLUMNS:
            table.add_column(col, justify="right", no_wrap=True)
        table.add_row(*(str(self.counts[c]) for c in COLUMNS))
        return Group(Text(self.line()), table)

    def tick(self) -> bool:
        """Count again and show; True when the count changed."""
        new = self._count()
        changed, self.counts = new != self.counts, new
        if self.live is not None:
            self.live.update(self.table())
        elif self.clock() - self.last_line >= self.every_s:
            self.last_line = self.clock()
            self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)
        return changed

    def close(self, final: dict[str, int] | None = None) -> None:
        """Last display, with the store's validated `final` counts when given; the table (or
        line) ends its own line, so what is printed next never joins it."""
        self.counts = {**self._count(), **(final or {})}
        if self.live is not None:
            self.live.update(self.table())
            self.live.stop()
            self.live = None
        else:
            self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)


def watch(executor, progress: Progress, on_change=lambda: None) -> None:
    """The loop every executor shares: wait for it in steps of its `poll_s`, counting between."""
    while not executor.wait(executor.poll_s):
        if progress.tick():
            on_change()
    if progress.tick():
        on_change()
