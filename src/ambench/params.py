"""Components and the parameters they declare: one declaration, every use.

A model, a data source and an experiment each declare their parameters once, as a `Params`
class (pydantic v2): type, default, range or choices, one line of doc. That class validates
`--set` values and sweep files (strict types, finite numbers, unknown keys refused), and feeds
`ambench models|datasets|experiments`, the CLI help and the README tables. A component's
`version` hashes the source that computes it, so stored results made by other code are visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Iterator, TypeVar, get_args, get_origin, Literal

import pydantic
from pydantic import ConfigDict
from pydantic import Field as _Field


class ConfigError(ValueError):
    """Bad input caught before anything runs; the message names the fix."""


class Params(pydantic.BaseModel):
    """Base of every component's parameters: frozen, strict, finite, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True)


P = TypeVar("P", bound=Params)


def Field(default: Any = ..., *, only_with: dict[str, Any] | None = None, **kwargs: Any) -> Any:  # noqa: N802
    """pydantic's Field, plus `only_with={"separation": "softmax"}`: the parameter takes part
    only when those other parameters of the same component have those values (one value or a
    tuple of values). A value given where it takes no part (explicitly, the default included,
    or a non-default one) is refused by `unused_values`: a value the user gave is never
    silently ignored."""
    if only_with:
        extra = dict(kwargs.pop("json_schema_extra", None) or {})
        extra["only_with"] = {k: list(v) if isinstance(v, tuple) else [v] for k, v in only_with.items()}
        kwargs["json_schema_extra"] = extra
    return _Field(default, **kwargs)


def choices(literal: Any) -> tuple:
    """The values of a `Literal[...]` type, in order: the one source of a choice list
    (`SEPARATIONS = choices(Separation)` beside `separation: Separation = Field(...)`)."""
    if get_origin(literal) is not Literal:
        raise TypeError(f"choices() takes a Literal[...] type, got {literal!r}")
    return get_args(literal)


def only_with(spec) -> dict[str, list]:
    """The `only_with` condition a parameter was declared with ({} when it always takes part)."""
    extra = spec.json_schema_extra if isinstance(spec.json_schema_extra, dict) else {}
    return extra.get("only_with", {})


def _condition(cond: dict[str, list], fields: dict | None = None) -> str:
    """`separation=softmax`, `interaction=power|rectified`, or `noise_kind≠none` when the
    allowed values are all the choices but a few."""
    parts = []
    for k, allowed in cond.items():
        ann = fields[k].annotation if fields and k in fields else None
        choices = list(get_args(ann)) if get_origin(ann) is Literal else []
        others = [c for c in choices if c not in allowed]
        parts.append(f"{k}≠{'|'.join(map(str, others))}" if choices and len(allowed) > 2 and len(others) < len(allowed)
                     else f"{k}={'|'.join(map(str, allowed))}")
    return " and ".join(parts)


def unused_values(component: Component, params: Params) -> list[str]:
    """One message per parameter given (explicitly, or with a non-default value) that these
    parameters leave unused: `beta=1000` with `separation=max` is refused even though 1000 is
    the default, since the user asked for something that takes no part."""
    out, values = [], params.model_dump()
    given = set(params.model_fields_set) | set(non_default(component, params))
    for name in sorted(given, key=list(values).index):
        value = values[name]
        cond = only_with(component.params.model_fields[name])
        if cond and not all(values[k] in allowed for k, allowed in cond.items()):
            now = ", ".join(f"{k}={values[k]}" for k in cond)
            where = _condition(cond, component.params.model_fields)
            out.append(f"{component.kind} {component.name}: {name}={value!r} is used only with {where} "
                       f"(this cell has {now}); drop {name} or set {where}")
    return out


@dataclass(frozen=True)
class Component(Generic[P]):
    """A named part of a cell: its kind, its parameter class, a line of doc, its code version."""

    kind: str  # "experiment" | "model" | "data"
    name: str
    params: type[P]
    doc: str
    version: str = "unknown"

    def defaults(self) -> dict[str, Any]:
        return self.params().model_dump()

    def validate(self, values: dict[str, Any], *, hint: str = "--set") -> P:
        """Typed, range-checked parameters; one line naming the component, key and fix."""
        try:
            return self.params(**values)
        except pydantic.ValidationError as err:
            raise ConfigError(describe_error(self, err, hint=hint)) from None


LISTINGS = {"data": "datasets", "experiment": "experiments", "model": "models"}


def describe_error(component: Component, err: pydantic.ValidationError, *, hint: str) -> str:
    e = err.errors()[0]
    key = ".".join(str(p) for p in e["loc"]) or "?"
    if e["type"] == "extra_forbidden":
        known = ", ".join(component.params.model_fields) or "none"
        return f"{component.kind} {component.name}: unknown parameter {key!r}; its parameters: {known}"
    spec = component.params.model_fields.get(key)
    allowed = f"; allowed: {describe_type(spec)}" if spec is not None else ""
    fix = f"{hint} {key}=VALUE" if hint.startswith("--") else f"{key} in the sweep's {hint.rstrip(':')}"
    return (f"{component.kind} {component.name}: {key}={e.get('input')!r}: {e['msg'].lower()}{allowed}; "
            f"fix {fix} (see `ambench {LISTINGS.get(component.kind, component.kind + 's')}`)")


def describe_type(spec) -> str:
    """'int in [1, 5000]', 'one of a, b', 'float >= 0' ... for listings and errors."""
    ann = spec.annotation
    if get_origin(ann) is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(ann))
    name = getattr(ann, "__name__", str(ann))
    bounds = []
    for m in spec.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{op} {getattr(m, attr)}")
    return f"{name} {' and '.join(bounds)}".strip()


def param_rows(component: Component) -> list[tuple[str, str, str, str]]:
    """(name, type and range, default, doc) per parameter: the one source of every listing.
    A label the component declares for a parameter (what its axes and legends say) is shown."""
    def doc(name, spec, fields):
        own = _own_label(component, name)
        return ((spec.description or "") + (f" (only with {_condition(only_with(spec), fields)})" if only_with(spec) else "")
                + (f" [drawn as “{' '.join(w for w in own if w)}”]" if own else ""))

    return [(name, describe_type(spec), repr(spec.default), doc(name, spec, fields))
            for fields in [component.params.model_fields] for name, spec in fields.items()]


def non_default(component: Component, params: Params) -> dict[str, Any]:
    """The parameters that differ from their declared defaults: what a cell's key hashes, so a
    parameter added later with a default that reproduces the old behaviour changes no key."""
    defaults = component.defaults()
    return {k: v for k, v in params.model_dump().items() if not _same(v, defaults.get(k, _MISSING))}


_MISSING = object()


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


C = TypeVar("C")


REGISTRIES: list["Registry"] = []  # every registry made, in order (experiments, models, datasets, figures)


@dataclass
class Registry(Generic[C]):
    """Components of one kind by name. `discover` imports the modules that register the built-in
    ones (each calls `ambench.register_*` at import); then every module that an installed package
    names in the entry-point group `plugin_group` is imported, and registers its own."""

    kind: str
    items: dict[str, C] = field(default_factory=dict)
    discover: Any = None  # () -> None, imports every module that registers a component
    stamp: Any = None  # () -> hashable: discovery is redone when it changes (e.g. a folder variable)
    _discover: Any = None
    _stamp: Any = None
    _found: set = field(default_factory=set)  # names registered by `discover` (dropped when redone)
    _discovering: bool = False

    def __post_init__(self) -> None:
        REGISTRIES.append(self)  # what `label` reads components' own labels from, without importing them

    def register(self, component: C) -> C:
        params = getattr(component, "params", None)
        if isinstance(component, Component) and not (isinstance(params, type)
                                                     and isinstance(getattr(params, "model_fields", None), dict)):
            raise ConfigError(f"{self.kind} {component.name!r}: its Params is {params!r}, not a class of parameters "
                              "(subclass ambench.params.Params)")
        old = self.items.get(component.name)
        if old is not None and getattr(old, "version", old) != getattr(component, "version", component):
            raise ConfigError(f"{self.kind} {component.name!r} is registered twice (from different code); "
                              "rename one of them")
        self.items[component.name] = component
        if self._discovering:
            self._found.add(component.name)
        return component

    def _ready(self) -> dict[str, C]:
        if self.stamp is not None and not self._discovering and self.stamp() != self._stamp:
            self._stamp = self.stamp()
            self.items = {k: v for k, v in self.items.items() if k not in self._found}
            self._found = set()
            self.discover = self.discover or self._discover
        if self.discover is not None:
            self._discover, self.discover = self.discover, None
            self._discovering = True
            try:
                self._discover()
            finally:
                self._discovering = False
            self._load_plugins()
        return self.items

    @property
    def plugin_group(self) -> str:
        """Entry points of installed packages in this group add components: `ambench.models`,
        `ambench.datasets`, `ambench.experiments`, `ambench.figures`."""
        return f"ambench.{self.kind}s"

    def _load_plugins(self) -> None:
        from importlib.metadata import entry_points

        import sys

        for ep in entry_points(group=self.plugin_group):
            before = dict(self.items)
            try:
                ep.load()  # the module registers its components when imported
            except Exception as err:  # noqa: BLE001 - a broken plugin disables itself, not ambench
                self.items = before  # whatever it registered before failing is dropped with it
                detail = (str(err).splitlines() or [""])[0]
                print(f"plugin {ep.name!r} ({ep.value}, entry point group {self.plugin_group}) is disabled: "
                      f"{type(err).__name__}: {detail}; fix or uninstall that package", file=sys.stderr, flush=True)

    def __getitem__(self, name: str) -> C:
        items = self._ready()
        if name not in items:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(items)}")
        return items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._ready()

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready())

    def __len__(self) -> int:
        return len(self._ready())

    def values(self):
        return self._ready().values()

    def keys(self):
        return self._ready().keys()


# --- labels: what a parameter or metric is called on an axis, in a legend and in W&B ------------
# (words, symbol): the axis reads "stored patterns K", a legend value "K = 100". One vocabulary
# for every component: a parameter's name means one thing across the suite (a component whose
# parameter needs other words passes `json_schema_extra={"label": (words, symbol)}`).
PARAM_LABELS: dict[str, tuple[str, str]] = {
    "n_memories": ("stored patterns", "K"), "dim": ("neurons", "N"), "noise_level": ("noise level", ""),
    "noise_kind": ("corruption", ""), "beta": ("inverse temperature", "β"), "n": ("interaction power", "n"),
    "interaction": ("interaction", "F"), "update": ("update", ""), "order": ("update order", ""),
    "max_sweeps": ("max sweeps", ""), "similarity": ("similarity", ""), "separation": ("separation", ""),
    "method": ("update method", ""), "max_steps": ("max steps", ""), "dt": ("step size", "dt"),
    "tol": ("tolerance", ""), "features": ("feature channels", ""), "kernel_size": ("kernel size", ""),
    "n_classes": ("label units", ""), "encoding": ("pattern encoding", ""), "balanced": ("balanced classes", ""),
    "split": ("split", ""), "data_dir": ("data folder", ""), "download": ("download", ""),
    "grayscale": ("grayscale", ""), "path": ("image folder", ""), "size": ("image size", ""),
    "n_starts": ("starting states", ""), "n_queries": ("queries", ""), "max_level": ("largest level", ""),
    "n_bisect": ("bisection steps", ""), "criterion": ("retrieval criterion", ""),
    "max_wrong": ("wrong-bit tolerance", ""), "threshold": ("error threshold", ""),
    "min_cosine": ("cosine threshold", ""), "search": ("capacity search", ""),
    "success_threshold": ("success threshold", ""), "k_max": ("largest K searched", ""),
    "train_set": ("training set", ""), "patch": ("patch side", "p"), "heads": ("attention heads", ""),
    "key_size": ("key size", "Y"), "memories": ("Hopfield memories", "M"), "hopfield_kind": ("Hopfield energy", ""),
    "mask_fraction": ("masked fraction in training", ""), "train_depth": ("steps unrolled in training", ""),
    "train_seed": ("training seed", ""), "fingerprint": ("image fingerprint", ""),
    "n_train": ("training images", ""), "n_test": ("test images", ""), "train_steps": ("training steps", ""),
    "learning_rate": ("learning rate", "η"), "batch_size": ("batch size", ""), "n_sets": ("pattern sets", ""),
    "query_noise": ("query noise", "r"), "epsilon": ("retrieval tolerance", "ε"), "batch": ("queries", "B"),
    "n_steps": ("steps", "T"), "precision": ("precision", ""), "chunk": ("memory block", ""),
    "repeats": ("repeats", ""), "reference": ("reference loop", ""),
    # identity columns
    "model": ("model", ""), "dataset": ("dataset", ""), "experiment": ("experiment", ""), "seed": ("seed", ""),
}
METRIC_LABELS: dict[str, str] = {
    "success_rate": "success rate", "threshold_rate": "success rate (squared error ≤ threshold)",
    "nearest_rate": "success rate (nearest stored pattern)", "converged_rate": "converged fraction",
    "diverged_rate": "diverged fraction", "energy_monotone_rate": "energy never rose (fraction)",
    "on_memory_or_negative_rate": "fraction ending on ±memory", "on_memory_rate": "fraction ending on a memory",
    "on_negative_rate": "fraction ending on −memory", "negative_rate": "fraction ending on −memory",
    "basin_mean": "basin radius (mean)", "accuracy": "test accuracy", "steps": "steps to converge",
    "steps_max": "steps (max)", "steps_mean": "steps (mean)", "tflops": "throughput (TFLOP/s)",
    "ms_per_step": "time per step (ms)", "one_step_rate": "retrieved in one update (fraction)",
    "one_step_nearest_rate": "nearest after one update (fraction)", "mean_abs_overlap": "mean |overlap|",
    "zero_rate": "zero-error fraction", "full_rate": "fully retrieved fraction",
    "within_bound_rate": "within the bound (fraction)", "well_separated_rate": "well separated (fraction)",
    "separated_rate": "separated (fraction)", "cosine_rate": "success rate (cosine)",
    "own_nearest_rate": "nearest to its own pattern (fraction)", "queries_steps_per_s": "query·steps per second",
    "load": "load α = K/N", "cosine": "cosine similarity", "error": "retrieval error",
    "capacity": "capacity K_c", "exact_rate": "exact recall rate", "ceiling_fraction": "fraction of the matmul ceiling",
    "overlap": "overlap m with the closest memory",
}
# a dataset's name in words, for figure titles ("MNIST (5k)", not mnist-5k); a dataset without
# one (a plugin's) shows its registered name
DATASET_LABELS: dict[str, str] = {
    "random": "random patterns", "mnist-5k": "MNIST (5k)", "mnist-idx": "MNIST", "mnist": "MNIST",
    "fashion_mnist-idx": "Fashion-MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100", "image-folder": "image folder",
}
# noise_level means a σ or a fraction, by the corruption: (words, symbol) per noise_kind
NOISE_LABELS: dict[str, tuple[str, str]] = {
    "gaussian": ("Gaussian noise σ", "σ"), "gaussian-abs": ("Gaussian noise σ (|x + N(0, σ)|)", "σ"),
    "flip": ("flipped bits ρ (fraction)", "ρ"), "mask_rows": ("masked bottom rows (fraction)", ""),
    "mask_pixels": ("masked pixels (fraction)", ""), "salt_pepper": ("salt-and-pepper pixels (fraction)", ""),
}


def _own_label(comp, name: str) -> tuple[str, str] | None:
    """`comp`'s `json_schema_extra={"label": (words, symbol)}` for its parameter `name`, if any."""
    params = getattr(comp, "params", None)
    spec = params.model_fields.get(name) if isinstance(params, type) and hasattr(params, "model_fields") else None
    extra = spec.json_schema_extra if spec is not None and isinstance(spec.json_schema_extra, dict) else {}
    return tuple(extra["label"]) if "label" in extra else None


def _component(given) -> list:
    """The registered components a name stands for (a model, dataset or experiment of that
    name; a Component stands for itself)."""
    if not isinstance(given, str):
        return [given]
    return [reg.items[given] for reg in REGISTRIES if given in reg.items]


def _declared_label(name: str, components=()) -> tuple[str, str] | None:
    """The label `components` (those the labelled values belong to) declare for `name`; with
    none given, any registered component's declared label."""
    for given in components:
        for comp in _component(given):
            if (own := _own_label(comp, name)) is not None:
                return own
    if components:
        return None
    for reg in REGISTRIES:  # those imported so far (a label is asked for where the components are in use)
        for comp in reg.values():
            if (own := _own_label(comp, name)) is not None:
                return own
    return None


def _bare(name: str) -> str:
    head, _, rest = name.partition(".")
    return rest if rest and head in ("experiment", "model", "data") else name


def _words(name: str, noise_kind: str | None, components=()) -> tuple[str, str]:
    if name == "noise_level" and noise_kind:
        return NOISE_LABELS.get(noise_kind, (f"{noise_kind} level", ""))
    # the component's own label when the values are its (the Energy Transformer's `dim` is
    # "token size D"); else the shared vocabulary: a name means one thing across the suite, and
    # a label asked for without its component (an axis over several models) must not take one
    # model's words; a component's declared label serves the names the vocabulary lacks
    return ((_declared_label(name, components) if components else None) or PARAM_LABELS.get(name)
            or _declared_label(name) or (name.replace("_", " "), ""))


def label(name: str, *, noise_kind: str | None = None, components=()) -> str:
    """An axis label in words with its symbol: `n_memories` -> "stored patterns K",
    `success_rate` -> "success rate", `noise_level` with flip noise -> "flipped bits
    (fraction) ρ"; `model.beta` reads as `beta`; an undeclared name shows with spaces.
    `components` (names or Components) are those the values belong to: a label one of them
    declares for `name` wins over the shared vocabulary."""
    name = _bare(name)
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    words, symbol = _words(name, noise_kind, tuple(components))
    return words if name == "noise_level" and noise_kind else f"{words} {symbol}".strip()


def dataset_label(name: str) -> str:
    """A dataset in words for a figure: `mnist-5k` -> "MNIST (5k)", `fashion_mnist-idx` ->
    "Fashion-MNIST"; an undeclared name as it is."""
    return DATASET_LABELS.get(str(name), str(name))


def value_label(name: str, value: Any, *, noise_kind: str | None = None, components=()) -> str:
    """A parameter's value in a legend or a panel title: "β = 10", "K = 100", "corruption flip"
    (`components` as for `label`)."""
    name = _bare(name)
    words, symbol = _words(name, noise_kind, tuple(components))
    if name in ("model", "dataset", "experiment"):
        return str(value)
    if symbol:
        return f"{symbol} = {value}"
    return f"{words} = {value}" if isinstance(value, (int, float)) or _numeric(value) else f"{words} {value}"


def _numeric(text) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False
