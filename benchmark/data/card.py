"""The dataset card (README.md with YAML configs) that makes a build loadable with load_dataset."""
from __future__ import annotations

import corruptions

from .schema import FEATURES
from .semantic import SEMANTIC_FEATURES


def corruption_table(profile_spec: str) -> list[dict]:
    rows = []
    for key, severity in corruptions.parse_profile(profile_spec):
        c = corruptions.get_corruption(key)
        rows.append({"key": key, "condition": c.name, "severity": severity, "description": c.description,
                     "geometric": c.geometric})
    return rows


#: Hugging Face licence identifiers a source's licence text may start with (the Hub's list, lower case)
HUB_LICENSES = ("apache-2.0", "mit", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0",
                "cc-by-nc-nd-4.0", "odc-by", "odbl", "pddl")


def hub_license(text: str) -> str:
    """The card's ``license:``: the Hub identifier the source's licence text starts with (e.g.
    "CC-BY-4.0 (COCO annotations) ..." -> ``cc-by-4.0``), else ``other``; the full text stays in the
    card's Source section either way."""
    first = text.split(" ", 1)[0].strip(",;").lower() if text else ""
    return first if first in HUB_LICENSES else "other"


def _yaml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_card(manifest: dict, source) -> str:
    b = manifest["build"]
    lines = ["---", f"license: {hub_license(source.license)}", "task_categories:", "- image-segmentation",
             "tags:", "- robustness", "- segment-anything", "- robustseg", "configs:"]
    for i, (config, splits) in enumerate(sorted(manifest["splits"].items())):
        lines.append(f"- config_name: {config}")
        if i == 0:
            lines.append("  default: true")
        lines.append("  data_files:")
        for split in sorted(splits, key=lambda s: (s != "clear", s)):
            lines += [f"  - split: {split}", f"    path: data/{config}/{split}-{manifest['fingerprint']}-*.parquet"]
    lines += ["---", "", f"# robustseg dataset: {b['source']} x {b['profile']} (seed {b['seed']})", "",
              "Built by robustseg from the source below. One row per (image, condition); "
              + ("label maps are lossless single-channel PNG (class index per pixel)." if manifest.get("classes")
                 else "instance masks are COCO compressed RLE."), "",
              "```python", "from datasets import load_dataset",
              f"ds = load_dataset(\"<this folder or hub id>\", \"{sorted(manifest['splits'])[0]}\", split=\"clear\")",
              "```", "", "## Build", "",
              "| parameter | value |", "|---|---|"]
    for k in ("source", "source_options", "source_params", "profile", "seed", "image_format", "jpeg_quality",
              "images_per_shard", "partitions", "limit", "schema_version"):
        lines.append(f"| {k} | `{b.get(k)}` |")
    fmt = b["image_format"]
    lines += ["", f"Images are stored as {'JPEG quality ' + str(b['jpeg_quality']) if fmt == 'jpeg' else 'lossless PNG'}."
              + (" JPEG is lossy: it slightly changes the statistics of noise degradations (as in RobustSAM's own "
                 "release, which re-encodes every degraded image as JPEG quality 95)." if fmt == "jpeg" else ""), "",
              "## Splits", "", "| config | split | images | objects |", "|---|---|---:|---:|"]
    for config, splits in sorted(manifest["splits"].items()):
        for split, s in sorted(splits.items(), key=lambda kv: (kv[0] != "clear", kv[0])):
            lines.append(f"| {config} | {split} | {s['rows']} | {s['objects']} |")
    if manifest["corruptions"]:
        lines += ["", "## Conditions", "", "| split | corruption | severity | geometric | description |",
                  "|---|---|---:|---|---|"]
        for c in manifest["corruptions"]:
            split = corruptions.split_name(c["condition"], c["severity"])
            lines.append(f"| {split} | `{c['key']}` | {c['severity']} | {'yes' if c['geometric'] else 'no'} | {c['description']} |")
    if manifest["skipped"]:
        lines += ["", f"## Skipped samples ({len(manifest['skipped'])})", "", "See `manifest.json` (`skipped`)."]
    if manifest.get("classes"):
        lines += ["", f"## Classes (label map values; {manifest['ignore_index']} = ignore)", "",
                  "| index | class |", "|---:|---|"] + [f"| {i} | {c} |" for i, c in enumerate(manifest["classes"])]
    features = SEMANTIC_FEATURES if manifest.get("classes") else FEATURES
    lines += ["", "## Features", "", "```", str(features), "```", "", "## Source", "",
              f"- license: {source.license}"]
    if source.homepage:
        lines.append(f"- homepage: {source.homepage}")
    if source.citation:
        lines += ["", "```bibtex", source.citation.strip(), "```"]
    return "\n".join(lines) + "\n"
