"""The ``robustseg`` command. Thin: every subcommand calls a library function."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

from . import argtypes as T
from .argtypes import arg


class _Progress:
    """A tqdm bar fed by (done, total) callbacks."""

    def __init__(self, desc: str, unit: str = "file"):
        self.desc, self.unit, self.bar = desc, unit, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)  # update(), not n=: tqdm's rate and time left come from updates
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_build(a) -> int:
    from .data.build import build
    from .pipeline import build_config, describe_build

    w, h = a.image_size
    config = build_config(a.source, T.options(a.source_option), root=a.root, profile=a.profile, seed=a.seed,
                          num_images=a.num_images, width=w, height=h, images_per_shard=a.images_per_shard,
                          image_format=a.image_format, jpeg_quality=a.jpeg_quality,
                          partitions=a.split or (), limit=a.limit)
    bar = _Progress("build", unit="chunk")
    t = time.time()
    try:
        r = build(config, a.out, num_workers=a.num_workers, shard=a.shard, skip_bad=a.skip_bad,
                  engine=a.engine, ray_address=a.ray_address, progress=bar)
    finally:
        bar.close()
    print("\n".join(describe_build(r, time.time() - t, a.shard)))
    return 0


def cmd_eval(a) -> int:
    from .pipeline import evaluate_models

    evaluate_models(a.model, a.dataset, a.protocol, a.out, model_options=T.options(a.model_option),
                    checkpoint=a.checkpoint, device=a.device, progress=_Progress, dataset_name=a.dataset_name,
                    splits=a.splits, shard=a.shard, random_weights=a.random_weights, skip_errors=a.skip_errors,
                    merge=a.merge, encode_batch=a.encode_batch, pipelined=not a.sequential, workers=a.workers,
                    click_batch=a.click_batch)
    return 0


def cmd_leaderboard(a) -> int:
    from .report.leaderboard import build_leaderboards

    for p in build_leaderboards(a.results, a.out, plots=not a.no_plots, reported=not a.no_reported,
                                allow_incomplete=a.allow_incomplete, allow_random_weights=a.allow_random_weights,
                                html=a.html, reference_model=a.reference_model):
        print(p)
    return 0


def cmd_push(a) -> int:
    from .data.hub import push_to_hub

    print(push_to_hub(a.dataset, a.repo_id, private=a.private, revision=a.revision))
    return 0


def cmd_train(a) -> int:
    from .train import train

    if a.model == "ecocseg":
        from .train.ecocseg_run import train_ecocseg_with

        weights = train_ecocseg_with(a.dataset, a.target_dataset, a.out, device=a.device, config=a.config,
                                     steps=a.steps, batch_size=a.batch_size, crop=a.train_size, lr=a.lr, seed=a.seed,
                                     resume=not a.no_resume, save_every=a.save_every, progress_bar=True, init_checkpoint=a.init_checkpoint,
                                     recipe_options=T.options(a.recipe_option), not_taken={f"--{k.replace('_', '-')}": v for k, v in (
                                         ("refiner", a.refiner), ("random_weights", a.random_weights),
                                         ("grad_accum", a.grad_accum != 1), ("dtype", a.dtype != "float32"), ("splits", a.splits),
                                         ("dataset_config", a.dataset_config))})
        print(f"weights: {weights}")
        return 0
    res = train(a.model, a.dataset, a.out, steps=a.steps, batch_size=a.batch_size, lr=a.lr, grad_accum=a.grad_accum,
                device=a.device, dtype=a.dtype, resume=not a.no_resume, config=a.config, seed=a.seed,
                init_checkpoint=a.init_checkpoint, save_every=a.save_every, train_size=a.train_size,
                splits=a.splits, dataset_configs=a.dataset_config, random_weights=a.random_weights,
                refiner_checkpoint=a.refiner, recipe_overrides=T.options(a.recipe_option))
    print(f"weights: {res.weights}")
    return 0


def cmd_reproduce(a) -> int:
    from .report.reproduce import format_status, list_suites_status, reproduce

    from .errors import UsageError

    checkpoints = T.model_checkpoints(a.checkpoint)
    if a.list:
        print(format_status(list_suites_status(a.data_root, checkpoints)))
        return 0
    if not a.suite:
        raise UsageError("name a suite, or pass --list to see them")
    models = None
    if a.model:
        models = {}
        for item in a.model:
            paper, sep, ours = item.partition("=")
            models[paper] = ours if sep else None
    path = reproduce(a.suite, a.data_root, checkpoints, a.out, models=models, datasets=a.dataset, limit=a.limit,
                     device=a.device, seed=a.seed, random_weights=a.random_weights,
                     progress=lambda msg: print(msg, file=sys.stderr))
    print(f"{path}\n{path.with_suffix('.md')}")
    return 0


def cmd_models(a) -> int:
    from baselines.registry import describe_models

    print("\n".join(describe_models(a.verbose)))
    return 0


def cmd_check_model(a) -> int:
    from baselines.check import check_model, format_report

    results = check_model(a.model, checkpoint=a.checkpoint, device=a.device, tiny=not a.full)
    print(format_report(results))
    return 0 if all(r.passed for r in results) else 1


def cmd_protocols(a) -> int:
    from .eval.protocols import describe_protocols

    print("\n".join(describe_protocols()))
    return 0


def cmd_corruptions(a) -> int:
    import corruptions

    if a.contact_sheet:
        from corruptions.contact_sheet import render_contact_sheet

        from .pipeline import contact_sheet_image

        print(render_contact_sheet(contact_sheet_image(a.image), corruptions.parse_profile(a.profile),
                                   a.contact_sheet, seed=a.seed))
        return 0
    print("\n".join(corruptions.describe_corruptions(a.family)))
    return 0


def cmd_sources(a) -> int:
    from .data.sources import describe_sources

    print("\n".join(describe_sources()))
    return 0


def cmd_run(a) -> int:
    """The embedded default end to end: build, eval, leaderboard."""
    from .pipeline import run_default

    w, h = a.image_size
    r = run_default(a.out, profile=a.profile, seed=a.seed, num_images=a.num_images, width=w, height=h,
                    num_workers=a.num_workers, models=a.model, protocols=a.protocol, progress=_Progress)
    print(f"done in {r.seconds:.0f} s. Load the dataset with: "
          f"datasets.load_dataset({str(r.dataset)!r}, 'default', split='clear')")
    return 0


def _add_build_args(p, out_default: str | None) -> None:
    p.add_argument("--profile", type=arg(T.profile), default="robustsam",
                   help="robustsam, imagecorruptions, clear, or name[:severity],...")
    p.add_argument("--seed", type=arg(T.seed), default=0)
    p.add_argument("--num-images", type=arg(T.integer(1)), default=24, help="synthetic source: number of images")
    p.add_argument("--image-size", type=arg(T.image_size), default="320x240", help="synthetic source: WIDTHxHEIGHT")
    p.add_argument("--num-workers", type=arg(T.integer(1, 256)), default=1)
    if out_default is None:
        p.add_argument("--out", required=True, help="output dataset folder")
    else:
        p.add_argument("--out", default=out_default)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("robustseg")
    except PackageNotFoundError:  # running from a source tree that was never pip-installed
        return "unknown (not installed)"


def _comma_lists(values: list[str] | None) -> list[str] | None:
    """``--model a,b --model c`` -> [a, b, c], as ``--profile`` takes a comma list."""
    return None if values is None else [v.strip() for item in values for v in item.split(",") if v.strip()]


def parser() -> T.OneLineParser:
    ap = T.OneLineParser(prog="robustseg", description="Robustness benchmark for promptable segmenters.")
    ap.add_argument("--version", action="version", version=f"robustseg {_version()}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("build", help="build a parquet dataset: source x corruption profile x seed")
    p.add_argument("--source", default="synthetic", help="source name (see `robustseg sources`)")
    p.add_argument("--root", help="dataset root folder for file-based sources")
    p.add_argument("--source-option", type=arg(T.key_value), action="append", metavar="KEY=VALUE",
                   help="extra source option (repeatable)")
    _add_build_args(p, None)
    p.add_argument("--images-per-shard", type=arg(T.integer(1, 1_000_000)), default=128)
    p.add_argument("--image-format", default="jpeg", choices=["jpeg", "png"])
    p.add_argument("--jpeg-quality", type=arg(T.integer(1, 100)), default=95)
    p.add_argument("--split", type=arg(T.partitions), help="partition into configs, e.g. train=0.8,val=0.1,test=0.1")
    p.add_argument("--limit", type=arg(T.integer(1)), help="deterministic subsample of N source images")
    p.add_argument("--shard", type=arg(T.shard), default="0/1",
                   help="i/N: build only this machine's share of the chunks")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable samples and list them in the manifest")
    p.add_argument("--engine", default="local", choices=["local", "ray"], help="ray: chunks as tasks on a Ray cluster")
    p.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local one)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("eval", help="evaluate models on a built dataset")
    p.add_argument("--dataset", required=True, help="built dataset folder")
    p.add_argument("--model", action="append", required=True, help="registry name or module:Class (repeatable, or a comma list)")
    p.add_argument("--protocol", action="append", default=None,
                   help="protocol (repeatable, or a comma list; default box,point; see `robustseg protocols`)")
    p.add_argument("--checkpoint", help="local checkpoint file for the model (a model that loads two, e.g. "
                   "airnet_sam_vit_b: both paths joined by ',', as `robustseg models` lists them)")
    p.add_argument("--random-weights", action="store_true",
                   help="run a model with learned weights on its random init (no --checkpoint); results say so")
    p.add_argument("--model-option", type=arg(T.key_value), action="append", metavar="KEY=VALUE",
                   help="extra model argument, e.g. config=tiny or dtype=bfloat16 (repeatable; part of the model name)")
    p.add_argument("--device", type=arg(T.device), default="cpu")
    p.add_argument("--splits", type=arg(T.name_list), help="comma list of splits to evaluate (default all)")
    p.add_argument("--shard", type=arg(T.shard), default="0/1",
                   help="i/N: evaluate only this machine's share of the dataset files")
    p.add_argument("--dataset-name", type=arg(T.name),
                   help="name in results and leaderboards (default: the folder name)")
    p.add_argument("--encode-batch", type=arg(T.integer(1, 4096)), default=1,
                   help="images per batched image-encoder forward (useful on a GPU)")
    p.add_argument("--workers", type=arg(T.integer(1, 256)),
                   help="threads decoding, prompting and scoring around the model (default: one per core)")
    p.add_argument("--click-batch", type=arg(T.integer(1, 4096)), default=1,
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
    p.add_argument("--allow-random-weights", action="store_true",
                   help="also rank results of models run on random weights (labelled as such)")
    p.add_argument("--html", metavar="SITE_DIR", help="also write the static web leaderboard there (opens from file://)")
    p.add_argument("--reference-model", help="model the corruption errors (CE, mCE, relative mCE) are relative to")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("push", help="upload a built dataset to the Hugging Face Hub (needs HF_TOKEN or a login)")
    p.add_argument("dataset", help="built dataset folder")
    p.add_argument("repo_id", help="e.g. user/robust-seg-synthetic")
    p.add_argument("--private", action="store_true")
    p.add_argument("--revision")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("train", help="fine-tune GaRA-SAM, RobustSAM, SUM or RUAC on a built dataset "
                                          "(docs/training.md); ecocseg: self-training source -> target (docs/semantic.md)")
    p.add_argument("model", help="gara-sam, robustsam, ruac, gara_sam_vit_{b,l} / robustsam_vit_{b,l,h}, ecocseg, or "
                                 "sum-refine then sum (sum[_refine]_vit_{b,l,h}) or sum-hq (sum_hq_sam_vit_{b,l,h}; "
                                 "docs/training.md)")
    p.add_argument("--dataset", required=True, help="built dataset folder (ecocseg: the labelled source)")
    p.add_argument("--target-dataset", help="ecocseg: the unlabelled target build (its labels are not read)")
    p.add_argument("--out", required=True, help="run folder (weights, log.csv, checkpoints); rerun to resume")
    p.add_argument("--init-checkpoint", help="official SAM weights of the same size (e.g. sam_vit_b_01ec64.pth; "
                                             "ruac: sam2.1_hiera_base_plus.pt; ecocseg: an ImageNet MiT encoder, mit_b5.pth)")
    p.add_argument("--refiner", help="sum, sum-hq: weights of a sum-refine run on the same dataset (the mask-refinement "
                                     "module that makes SUM's uncertainty maps)")
    p.add_argument("--random-weights", action="store_true",
                   help="start from random init instead of --init-checkpoint (tests; the run records it)")
    p.add_argument("--steps", type=arg(T.integer(1)), help="optimizer steps (default: one epoch)")
    p.add_argument("--batch-size", type=arg(T.integer(1, 4096)),
                   help="images per micro-batch (default: recipe, 8; ruac 32)")
    p.add_argument("--grad-accum", type=arg(T.integer(1, 4096)), default=1, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=arg(T.positive_real),
                   help="default: recipe (1e-4; GaRA-SAM ViT-L 1e-5; ruac: 1e-6 base rate, head and attackers fixed)")
    p.add_argument("--train-size", type=arg(T.integer(16, 4096)),
                   help="square training resolution (default 512, ruac 1024; ecocseg: crop size)")
    p.add_argument("--device", type=arg(T.device), default="auto")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--seed", type=arg(T.seed), default=0)
    p.add_argument("--save-every", type=arg(T.integer(1)), default=500)
    p.add_argument("--splits", type=arg(T.name_list), help="comma list of splits to draw from (default all)")
    p.add_argument("--dataset-config", type=arg(T.name_list), help="comma list of build partitions (default all)")
    p.add_argument("--config", help="model size config, e.g. tiny (tests)")
    p.add_argument("--recipe-option", type=arg(T.key_value), action="append", metavar="KEY=VALUE",
                   help="replace a recipe default, e.g. adversarial_from_epoch=0 (recorded in train.json)")
    p.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("reproduce", help="rerun a seed paper's table: reported, reproduced and difference per cell")
    p.add_argument("suite", nargs="?", help="suite name (see --list)")
    p.add_argument("--list", action="store_true", help="list suites and which datasets and weights are present")
    p.add_argument("--data-root", help="folder holding the datasets in the subfolders --list names")
    p.add_argument("--checkpoint", action="append", metavar="MODEL=PATH",
                   help="checkpoint of a robustseg model (repeatable; MODEL=A,B for a model that loads two files)")
    p.add_argument("--model", action="append", metavar="PAPER_NAME[=MODEL]",
                   help="run only these paper models; =MODEL substitutes a robustseg model (repeatable)")
    p.add_argument("--dataset", action="append", help="run only these suite datasets (repeatable)")
    p.add_argument("--out", default="reproduce", help="output folder (datasets/, results/, <suite>.csv, .md)")
    p.add_argument("--limit", type=arg(T.integer(1)), help="deterministic subsample of N images per source")
    p.add_argument("--device", type=arg(T.device), default="cpu")
    p.add_argument("--seed", type=arg(T.seed), default=0)
    p.add_argument("--random-weights", action="store_true",
                   help="run models without a --checkpoint on random init (results say so)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("models", help="list registered models and their weights status")
    p.add_argument("-v", "--verbose", action="store_true", help="also say what was verified against official code")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("check-model", help="run the contract checks on a model (registry name or module:Class)")
    p.add_argument("model")
    p.add_argument("--checkpoint", help="local checkpoint file")
    p.add_argument("--device", type=arg(T.device), default="cpu")
    p.add_argument("--full", action="store_true", help="full-size model instead of its tiny test configuration")
    p.set_defaults(func=cmd_check_model)

    p = sub.add_parser("protocols", help="list evaluation protocols")
    p.set_defaults(func=cmd_protocols)

    p = sub.add_parser("corruptions", help="list corruptions with severities and descriptions")
    p.add_argument("--family", choices=["robustsam", "imagecorruptions"])
    p.add_argument("--contact-sheet", type=arg(T.image_file), metavar="PNG",
                   help="render one image under every corruption of --profile")
    p.add_argument("--image", help="image for the contact sheet (default: a synthetic scene)")
    p.add_argument("--profile", type=arg(T.profile), default="robustsam")
    p.add_argument("--seed", type=arg(T.seed), default=0)
    p.set_defaults(func=cmd_corruptions)

    p = sub.add_parser("sources", help="list dataset sources and the layouts they expect")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("run", help="build, evaluate and rank on the embedded synthetic source (no downloads)")
    _add_build_args(p, "runs/default")
    p.add_argument("--model", action="append", default=None, help="models (repeatable, or a comma list; default: box,grabcut)")
    p.add_argument("--protocol", action="append", default=None, help="protocols (repeatable, or a comma list; default: box,point)")
    p.set_defaults(func=cmd_run)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 1 a check failed (check-model), 2 a user error (one line: what is wrong and what
    is valid), 130/143 interrupted by Ctrl-C/SIGTERM (resumable). Anything else is a bug: its traceback shows."""
    from .errors import user_error_types
    from .jobs import JobInterrupted, interrupts_unwind

    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse printed its one line (or --help)
        return e.code if isinstance(e.code, int) else 2
    for name in ("model", "protocol"):
        if isinstance(getattr(args, name, None), list):
            setattr(args, name, _comma_lists(getattr(args, name)))
    try:
        with interrupts_unwind():
            return args.func(args)
    except user_error_types() as e:
        print(f"robustseg: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, JobInterrupted) else 2
        print(f"robustseg: interrupted ({'SIGTERM' if signum == 15 else 'Ctrl-C'}); finished parts are saved, "
              "rerun the same command to resume", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
