"""The ``robustseg`` command. Thin: every subcommand calls a library function."""
from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm


def _kv(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        out[k.replace("-", "_")] = _auto(v)
    return out


def _auto(v: str):
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _shard(s: str) -> tuple[int, int]:
    i, _, n = s.partition("/")
    return int(i), int(n)


def _partitions(s: str | None) -> tuple:
    if not s:
        return ()
    return tuple((name, float(f)) for name, f in (p.split("=") for p in s.split(",")))


class _Progress:
    """A tqdm bar fed by (done, total) callbacks."""

    def __init__(self, desc: str, unit: str = "file"):
        self.desc, self.unit, self.bar = desc, unit, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self.bar.n = done
        self.bar.refresh()
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _build_config(a):
    from .data.build import BuildConfig

    options = _kv(a.source_option)
    if a.root:
        options["root"] = a.root
    if a.source == "synthetic":
        options.setdefault("num_images", a.num_images)
        w, _, h = a.image_size.partition("x")
        options.setdefault("width", int(w))
        options.setdefault("height", int(h))
        options.setdefault("seed", a.seed)
    return BuildConfig(source=a.source, source_options=options, profile=a.profile, seed=a.seed,
                       images_per_shard=a.images_per_shard, image_format=a.image_format,
                       jpeg_quality=a.jpeg_quality, partitions=_partitions(a.split), limit=a.limit)


def cmd_build(a) -> int:
    from .data.build import build
    from .pipeline import describe_build

    bar = _Progress("build", unit="chunk")
    t = time.time()
    try:
        r = build(_build_config(a), a.out, num_workers=a.num_workers, shard=_shard(a.shard), skip_bad=a.skip_bad,
                  engine=a.engine, ray_address=a.ray_address, progress=bar)
    finally:
        bar.close()
    print("\n".join(describe_build(r, time.time() - t, a.shard)))
    return 0


def cmd_eval(a) -> int:
    from baselines import create_model

    from .eval.evaluate import evaluate
    from .pipeline import describe_eval

    options = _kv(a.model_option)
    for spec in a.model:
        model = create_model(spec, checkpoint=a.checkpoint, device=a.device, **options)
        if options:  # a non-default configuration must not pass for the model's default one
            model.name = f"{spec}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"
        for protocol in a.protocol:
            bar = _Progress(f"eval {model.name} {protocol}")
            try:
                r = evaluate(model, a.dataset, protocol, a.out, checkpoint=a.checkpoint, device=a.device,
                             dataset_name=a.dataset_name,
                             splits=a.splits.split(",") if a.splits else None, shard=_shard(a.shard),
                             skip_errors=a.skip_errors, merge=a.merge, encode_batch=a.encode_batch,
                             pipelined=not a.sequential, workers=a.workers, click_batch=a.click_batch, progress=bar)
            finally:
                bar.close()
            print("\n".join(describe_eval(r)))
    return 0


def cmd_leaderboard(a) -> int:
    from .report.leaderboard import build_leaderboards

    for p in build_leaderboards(a.results, a.out, plots=not a.no_plots, reported=not a.no_reported,
                                allow_incomplete=a.allow_incomplete):
        print(p)
    return 0


def cmd_push(a) -> int:
    from .data.hub import push_to_hub

    print(push_to_hub(a.dataset, a.repo_id, private=a.private, revision=a.revision))
    return 0


def cmd_train(a) -> int:
    from .train import train

    res = train(a.model, a.dataset, a.out, steps=a.steps, batch_size=a.batch_size, lr=a.lr, grad_accum=a.grad_accum,
                device=a.device, dtype=a.dtype, resume=not a.no_resume, config=a.config, seed=a.seed,
                init_checkpoint=a.init_checkpoint, save_every=a.save_every, train_size=a.train_size,
                splits=a.splits.split(",") if a.splits else None,
                dataset_configs=a.dataset_config.split(",") if a.dataset_config else None)
    print(f"weights: {res.weights}")
    return 0


def cmd_reproduce(a) -> int:
    from .report.reproduce import format_status, list_suites_status, reproduce

    checkpoints = {}
    for item in a.checkpoint or []:
        name, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--checkpoint expects MODEL=PATH, got {item!r}")
        checkpoints[name] = path
    if a.list:
        print(format_status(list_suites_status(a.data_root, checkpoints)))
        return 0
    if not a.suite:
        raise ValueError("name a suite, or pass --list to see them")
    models = None
    if a.model:
        models = {}
        for item in a.model:
            paper, sep, ours = item.partition("=")
            models[paper] = ours if sep else None
    path = reproduce(a.suite, a.data_root, checkpoints, a.out, models=models, datasets=a.dataset, limit=a.limit,
                     device=a.device, seed=a.seed, progress=lambda msg: print(msg, file=sys.stderr))
    print(f"{path}\n{path.with_suffix('.md')}")
    return 0


def cmd_models(a) -> int:
    from baselines import list_models

    from baselines.registry import missing_extra_hint

    for m in list_models():
        print(f"{m.name:24s} {m.description}\n{'':24s} weights: {m.weights_status}")
        if a.verbose and m.verified:
            print(f"{'':24s} verified: {m.verified}")
    if hint := missing_extra_hint():
        print(hint.lstrip(". "))
    return 0


def cmd_check_model(a) -> int:
    from baselines.check import check_model, format_report

    results = check_model(a.model, checkpoint=a.checkpoint, device=a.device, tiny=not a.full)
    print(format_report(results))
    return 0 if all(r.passed for r in results) else 1


def cmd_protocols(a) -> int:
    from .eval.protocols import EVAL_PROTOCOLS

    for spec in EVAL_PROTOCOLS.values():
        print(f"{spec.name:12s} {spec.description}")
    return 0


def cmd_corruptions(a) -> int:
    import corruptions

    if a.contact_sheet:
        from corruptions.contact_sheet import render_contact_sheet

        from .data.sources.imageio import read_image

        image = read_image(a.image) if a.image else create_source_image()
        path = render_contact_sheet(image, corruptions.parse_profile(a.profile), a.contact_sheet, seed=a.seed)
        print(path)
        return 0
    for c in corruptions.list_corruptions(a.family):
        sev = ",".join(map(str, c.severities))
        print(f"{c.key:36s} severities {sev:10s} {'geometric ' if c.geometric else ''}{c.description}")
    return 0


def create_source_image():
    from .data.sources import create_source

    return create_source("synthetic", num_images=1, width=320, height=240)[0].image


def cmd_sources(a) -> int:
    from .data.sources import list_sources

    for s in list_sources():
        print(f"{s.name:20s} {s.description}\n{'':20s} layout: {s.layout}")
    return 0


def cmd_run(a) -> int:
    """The embedded default end to end: build, eval, leaderboard."""
    from .pipeline import run_default

    w, _, h = a.image_size.partition("x")
    r = run_default(a.out, profile=a.profile, seed=a.seed, num_images=a.num_images, width=int(w), height=int(h),
                    num_workers=a.num_workers, models=a.model, protocols=a.protocol, progress=_Progress)
    print(f"done in {r.seconds:.0f} s. Load the dataset with: "
          f"datasets.load_dataset({str(r.dataset)!r}, 'default', split='clear')")
    return 0


def _add_build_args(p, out_default: str | None) -> None:
    p.add_argument("--profile", default="robustsam", help="robustsam, imagecorruptions, clear, or name[:severity],...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-images", type=int, default=24, help="synthetic source: number of images")
    p.add_argument("--image-size", default="320x240", help="synthetic source: WIDTHxHEIGHT")
    p.add_argument("--num-workers", type=int, default=1)
    if out_default is None:
        p.add_argument("--out", required=True, help="output dataset folder")
    else:
        p.add_argument("--out", default=out_default)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="robustseg", description="Robustness benchmark for promptable segmenters.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("build", help="build a parquet dataset: source x corruption profile x seed")
    p.add_argument("--source", default="synthetic", help="source name (see `robustseg sources`)")
    p.add_argument("--root", help="dataset root folder for file-based sources")
    p.add_argument("--source-option", action="append", metavar="KEY=VALUE", help="extra source option (repeatable)")
    _add_build_args(p, None)
    p.add_argument("--images-per-shard", type=int, default=128)
    p.add_argument("--image-format", default="jpeg", choices=["jpeg", "png"])
    p.add_argument("--jpeg-quality", type=int, default=95)
    p.add_argument("--split", help="partition into configs, e.g. train=0.8,val=0.1,test=0.1")
    p.add_argument("--limit", type=int, help="deterministic subsample of N source images")
    p.add_argument("--shard", default="0/1", help="i/N: build only this machine's share of the chunks")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable samples and list them in the manifest")
    p.add_argument("--engine", default="local", choices=["local", "ray"], help="ray: chunks as tasks on a Ray cluster")
    p.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local one)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("eval", help="evaluate models on a built dataset")
    p.add_argument("--dataset", required=True, help="built dataset folder")
    p.add_argument("--model", action="append", required=True, help="registry name or module:Class (repeatable)")
    p.add_argument("--protocol", action="append", default=None,
                   help="protocol (repeatable; default box and point; see `robustseg protocols`)")
    p.add_argument("--checkpoint", help="local checkpoint file for the model")
    p.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                   help="extra model argument, e.g. config=tiny or dtype=bfloat16 (repeatable; shown in the model name)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--splits", help="comma list of splits to evaluate (default all)")
    p.add_argument("--shard", default="0/1", help="i/N: evaluate only this machine's share of the dataset files")
    p.add_argument("--dataset-name", help="name in results and leaderboards (default: the folder name)")
    p.add_argument("--encode-batch", type=int, default=1,
                   help="images per batched image-encoder forward (useful on a GPU)")
    p.add_argument("--workers", type=int, help="threads decoding, prompting and scoring around the model "
                                                "(default: one per core)")
    p.add_argument("--click-batch", type=int, default=1,
                   help="interactive protocols: instances whose clicks go in one predict call (GPU; 1 = "
                        "byte-identical to one call per instance, >1 equal up to float rounding for neural models)")
    p.add_argument("--sequential", action="store_true",
                   help="the plain loop on one thread instead of the pipelined evaluator (same results, slower)")
    p.add_argument("--merge", action="store_true",
                   help="after --shard runs: evaluate nothing, check every shard is done and write the manifest")
    p.add_argument("--skip-errors", action="store_true",
                   help="skip images the model fails on (raises, NaN, wrong shape) and record them, instead of stopping")
    p.add_argument("--out", default="results")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("leaderboard", help="regenerate leaderboard CSV/markdown/plots from results folders")
    p.add_argument("results", nargs="+", help="results folders")
    p.add_argument("--out", default="leaderboards")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-reported", action="store_true", help="leave out the papers' reported numbers")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="also read unfinished evaluations (no manifest.json); their means are partial")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("push", help="upload a built dataset to the Hugging Face Hub (needs HF_TOKEN or a login)")
    p.add_argument("dataset", help="built dataset folder")
    p.add_argument("repo_id", help="e.g. user/robust-seg-synthetic")
    p.add_argument("--private", action="store_true")
    p.add_argument("--revision")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("train", help="fine-tune GaRA-SAM or RobustSAM on a built dataset (docs/training.md)")
    p.add_argument("model", help="gara-sam, robustsam, or gara_sam_vit_{b,l} / robustsam_vit_{b,l,h}")
    p.add_argument("--dataset", required=True, help="built dataset folder")
    p.add_argument("--out", required=True, help="run folder (weights, log.csv, checkpoints); rerun to resume")
    p.add_argument("--init-checkpoint", help="official SAM weights of the same size (e.g. sam_vit_b_01ec64.pth)")
    p.add_argument("--steps", type=int, help="optimizer steps (default: one epoch)")
    p.add_argument("--batch-size", type=int, help="images per micro-batch (default: recipe, 8)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, help="default: recipe (1e-4; GaRA-SAM ViT-L 1e-5)")
    p.add_argument("--train-size", type=int, help="square training resolution (default 512)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--splits", help="comma list of splits to draw from (default all)")
    p.add_argument("--dataset-config", help="comma list of build partitions (default all)")
    p.add_argument("--config", help="model size config, e.g. tiny (tests)")
    p.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("reproduce", help="rerun a seed paper's table: reported, reproduced and difference per cell")
    p.add_argument("suite", nargs="?", help="suite name (see --list)")
    p.add_argument("--list", action="store_true", help="list suites and which datasets and weights are present")
    p.add_argument("--data-root", help="folder holding the datasets in the subfolders --list names")
    p.add_argument("--checkpoint", action="append", metavar="MODEL=PATH",
                   help="checkpoint of a robustseg model (repeatable)")
    p.add_argument("--model", action="append", metavar="PAPER_NAME[=MODEL]",
                   help="run only these paper models; =MODEL substitutes a robustseg model (repeatable)")
    p.add_argument("--dataset", action="append", help="run only these suite datasets (repeatable)")
    p.add_argument("--out", default="reproduce", help="output folder (datasets/, results/, <suite>.csv, .md)")
    p.add_argument("--limit", type=int, help="deterministic subsample of N images per source")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("models", help="list registered models and their weights status")
    p.add_argument("-v", "--verbose", action="store_true", help="also say what was verified against official code")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("check-model", help="run the contract checks on a model (registry name or module:Class)")
    p.add_argument("model")
    p.add_argument("--checkpoint", help="local checkpoint file")
    p.add_argument("--device", default="cpu")
    p.add_argument("--full", action="store_true", help="full-size model instead of its tiny test configuration")
    p.set_defaults(func=cmd_check_model)

    p = sub.add_parser("protocols", help="list evaluation protocols")
    p.set_defaults(func=cmd_protocols)

    p = sub.add_parser("corruptions", help="list corruptions with severities and descriptions")
    p.add_argument("--family", choices=["robustsam", "imagecorruptions"])
    p.add_argument("--contact-sheet", metavar="PNG", help="render one image under every corruption of --profile")
    p.add_argument("--image", help="image for the contact sheet (default: a synthetic scene)")
    p.add_argument("--profile", default="robustsam")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_corruptions)

    p = sub.add_parser("sources", help="list dataset sources and the layouts they expect")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("run", help="build, evaluate and rank on the embedded synthetic source (no downloads)")
    _add_build_args(p, "runs/default")
    p.add_argument("--model", action="append", default=None, help="models (default: box, grabcut)")
    p.add_argument("--protocol", action="append", default=None, help="protocols (default: box, point)")
    p.set_defaults(func=cmd_run)
    return ap


def main(argv: list[str] | None = None) -> int:
    from baselines import ModelOutputError, UnknownModelError
    from baselines.checkpoints import CheckpointError
    from corruptions import ImageFormatError, UnknownCorruptionError

    from .data.sources import UnknownSourceError
    from .data.sources.errors import BadSampleError
    from .jobs import FolderBusyError, IncompleteResultsError, JobConflictError
    from .report.reproduce import MissingInputsError

    args = parser().parse_args(argv)
    if getattr(args, "protocol", "unset") is None:
        args.protocol = ["box", "point"]
    if args.cmd == "run" and args.model is None:
        args.model = ["box", "grabcut"]
    user_errors = (UnknownModelError, CheckpointError, MissingInputsError, IncompleteResultsError, UnknownCorruptionError,
                   UnknownSourceError, JobConflictError, FolderBusyError, BadSampleError, ModelOutputError,
                   ImageFormatError, KeyError, ValueError, OSError)
    try:
        return args.func(args)
    except user_errors as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"robustseg: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
