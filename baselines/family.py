"""Model families: one record per family (how to build its ``nn.Module`` at a size, the adapter that puts it
behind the contract, the official checkpoint names and the hashes published for them) and one function
that registers every size of a family. Why: the torch families differ only in these facts; the lines that
build under a seeded random init, verify and load a checkpoint, wrap the module and record its sha256 are
written once here instead of once per family. Torch is imported only when a model is built."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from .contract import ModelArgumentError
from .registry import register_model

_FAMILIES: dict[str, "ModelFamily"] = {}
_MODEL_NAMES: dict[str, dict[str, str]] = {}  # family name -> {variant: registered model name}


@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Random init from a fixed seed without touching the caller's global torch RNG state, so a
    random-weight model is the same in every run (torch modules draw their init from the global RNG)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def init_model(build: Callable[[], Any], checkpoint: Optional[str] = None, **load_kwargs) -> tuple[Any, str]:
    """``(module, sha256)``: ``build()`` under the seeded random init, then ``checkpoint``'s weights
    when one is given (``load_kwargs`` go to ``load_checkpoint``); sha256 is '' for random weights."""
    from .checkpoints import load_checkpoint

    with seeded_init():
        model = build()
    return model, (load_checkpoint(model, checkpoint, **load_kwargs) if checkpoint is not None else "")


def pick_config(configs: Mapping[str, Any], variant: str, config: Optional[str], what: str):
    """``config=None`` (or ``"full"``) gives the variant's official size; another name (``"tiny"``) that size."""
    key = variant if config in (None, "full") else config
    if key not in configs:
        raise ModelArgumentError(f"unknown {what} config {key!r}; valid: full, {', '.join(configs)}")
    return configs[key]


@dataclass(frozen=True)
class ModelFamily:
    """What differs between the torch families. ``build(variant, config, **build_options)`` returns the bare
    module at random init (``config=None``: the variant's official size, ``"tiny"``: the test size)."""

    name: str  # e.g. "robustsam"; also the key of the family registry
    build: Callable[..., Any]
    adapter: type  # PromptableSegmenter subclass taking (module, device=, dtype=, **adapter options)
    files: Mapping[str, str]  # variant -> the official checkpoint file name
    published: Mapping[str, str] = field(default_factory=dict)  # variant -> hash published for that file
    hash_kind: str = "sha256"  # "md5" for SAM, whose file names carry an MD5 prefix
    ignore_prefixes: tuple[str, ...] = ()  # training-only tensors a release file carries
    build_options: tuple[str, ...] = ()  # keyword arguments that go to ``build`` instead of the adapter

    def make(self, variant: str, checkpoint: Optional[str] = None, device: str = "cpu", dtype="float32",
             config: Optional[str] = None, *, sha256: Optional[str] = None, md5: Optional[str] = None, **options):
        """The adapter around a seeded random-init module, with ``checkpoint`` loaded strictly when given.
        A file that keeps its official name is checked against the published hash unless one is passed."""
        self._check_options(variant, sha256, md5, options)
        hashes = {"sha256": sha256, "md5": md5}
        if (hashes[self.hash_kind] is None and checkpoint is not None
                and Path(checkpoint).name == self.files.get(variant)):
            hashes[self.hash_kind] = self.published.get(variant)
        build_kw = {k: options.pop(k) for k in self.build_options if k in options}
        model, sha = init_model(partial(self.build, variant, config, **build_kw), checkpoint,
                                ignore_prefixes=self.ignore_prefixes, **hashes)
        adapter = self.adapter(model, device=device, dtype=dtype, **options)
        adapter.checkpoint_sha256 = sha
        return adapter

    def _check_options(self, variant: str, sha256, md5, options: Mapping[str, Any]) -> None:
        """Before anything is built: an option neither ``build`` nor the adapter takes is refused by name
        (``make`` takes ``**options`` for them, so the registry cannot see its valid names), and a hash that
        is not hex digits (sha256: 64; md5: a prefix of up to 32, as SAM's file names carry 6; "" is the
        explicit "do not check the published hash")."""
        import inspect
        import re

        name = _MODEL_NAMES.get(self.name, {}).get(variant, f"{self.name} {variant}")
        for key, value, pattern, size in (("sha256", sha256, r"[0-9a-fA-F]{64}", "64"),
                                          ("md5", md5, r"[0-9a-fA-F]{1,32}", "1 to 32")):
            if value not in (None, "") and not (isinstance(value, str) and re.fullmatch(pattern, value)):
                raise ModelArgumentError(f"model {name!r}: option {key} must be {size} hex digits, got {value!r}")
        params = inspect.signature(self.adapter).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return
        valid = sorted({*self.build_options, *params} - {"model", "device", "dtype"})
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ModelArgumentError(f"model {name!r} takes no option {', '.join(unknown)}; its options: "
                                     f"{', '.join(['config', 'dtype', 'md5', 'sha256', *valid])}")


def register_family(family: ModelFamily, variants, *, description: str, name: str = "{family}_{variant}",
                    label: Callable[[str], str] = lambda v: v.upper().replace("_", "-"),
                    factory: Optional[Callable[..., Any]] = None, requires=("torch", "segment_anything"),
                    public_weights: bool = True, tags=(), verified: str = "") -> ModelFamily:
    """Register ``name`` (formatted with the family name and the variant) for every variant, each built by
    ``factory(variant, ...)`` (default ``family.make``), described by ``description`` with ``{label}`` the
    variant's display label, tested at the tiny random-init size."""
    if family.name in _FAMILIES:
        raise ValueError(f"model family {family.name!r} registered twice")
    _FAMILIES[family.name] = family
    _MODEL_NAMES[family.name] = {v: name.format(family=family.name, variant=v) for v in variants}
    for v, model_name in _MODEL_NAMES[family.name].items():
        register_model(model_name, description=description.format(label=label(v)),
                       checkpoint_files=(family.files[v],), public_weights=public_weights, requires=requires,
                       tags=tags, test_kwargs={"config": "tiny"}, verified=verified)(partial(factory or family.make, v))
    return family


def list_families() -> list[ModelFamily]:
    """Every built-in torch family whose packages are installed (importing the zoo registers them)."""
    from . import zoo  # noqa: F401

    return sorted(_FAMILIES.values(), key=lambda f: f.name)


def family_models(family: ModelFamily) -> dict[str, str]:
    """``{variant: registered model name}`` of a registered family."""
    return dict(_MODEL_NAMES[family.name])
