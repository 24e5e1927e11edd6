"""What must run: every cell of a grid against a store, in one rule for `run`, `sweep`,
`figures` and `status`.

A cell is
- done      stored, with the cell's parameters, by the code that is here now;
- changed   stored under its key with another value of a parameter (keys hash non-default
            values only, so a changed default leaves the key and changes the question);
- outdated  stored with these parameters by code that has changed since (a component version);
- failed    not stored, its last attempt recorded an error;
- missing   never stored nor failed.
`changed` wins over `outdated`: a row that answered another question is never "current".
Running and stale markers are a live state of a sweep, not of the plan (`_status.states`).

Imports no JAX unless a cell's parameters are compared (`cells` given as Cell objects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ._store import Store

STATES = ("done", "changed", "outdated", "failed", "missing")


@dataclass(frozen=True)
class Plan:
    """Per cell key: its state, why (changed, outdated, failed) and its stored row (done,
    changed, outdated). Keys keep the order the cells were given in."""

    state: dict[str, str]
    why: dict[str, str]
    rows: dict[str, dict]

    def keys(self, *states: str) -> list[str]:
        return [k for k, s in self.state.items() if s in states]

    def counts(self) -> dict[str, int]:
        return {s: len(self.keys(s)) for s in STATES}

    def todo(self, *, force: bool = False, rerun_outdated: bool = False) -> list[str]:
        """The keys to run: missing, failed and changed cells; outdated ones too with
        `rerun_outdated`; every cell with `force`."""
        if force:
            return list(self.state)
        return self.keys("missing", "failed", "changed", *(("outdated",) if rerun_outdated else ()))

    def changed_note(self) -> str | None:
        """The line `run` and `sweep` print when stored cells are run again because a
        parameter differs (None: none does)."""
        changed = self.keys("changed")
        if not changed:
            return None
        return (f"re-running {len(changed)} stored cells whose parameters differ from this grid's "
                f"(a default changed since they ran), e.g. {self.why[changed[0]]}")


def plan(cells: Mapping[str, object] | Iterable, store: Store, *,
         outdated: Callable[[dict], str | None] | None = None) -> Plan:
    """The plan of `cells` (Cell objects, or a mapping key -> Cell, where a value None skips
    the parameter comparison: `status` knows keys only) against `store`. `outdated(row)` says
    why a row's code is outdated (default `_cells.outdated_reason`, which imports the
    registries; `status` passes the JAX-free `_versions` one)."""
    by_key = dict(cells) if isinstance(cells, Mapping) else {c.key: c for c in cells}
    if outdated is None:
        from ._cells import outdated_reason as outdated
    done, failed = store.done_keys(), store.failed_keys()
    state, why, rows = {}, {}, {}
    for key, cell in by_key.items():
        if key not in done:
            state[key] = "failed" if key in failed else "missing"
            if key in failed:
                error = (store.failure(key) or {}).get("error", "")
                why[key] = error.splitlines()[0] if error else "?"
            continue
        try:
            row = rows[key] = store.rows_by_key([key])[0]
        except KeyError:  # quarantined since it was listed
            state[key] = "missing"
            continue
        reason = _differ(row, cell) if cell is not None else None
        if reason is not None:
            state[key], why[key] = "changed", reason
        elif (reason := outdated(row)) is not None:
            state[key], why[key] = "outdated", reason
        else:
            state[key] = "done"
    return Plan(state, why, rows)


def _differ(row: dict, cell) -> str | None:
    from ._cells import parameters_differ

    return parameters_differ(row, cell)
