"""Controlled vocabularies for reported numbers, so a paper's row can be matched to a measured row."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...vocab import REAL_CONDITIONS, SYNTHETIC_CONDITIONS


@dataclass(frozen=True)
class Paper:
    key: str
    title: str
    venue: str
    seed: str  # file name of the paper's text in ../shared/seeds


PAPERS: dict[str, Paper] = {p.key: p for p in (
    Paper("gara_sam", "GaRA-SAM: Robustifying Segment Anything Model with Gated-Rank Adaptation", "NeurIPS 2025",
          "000_4769c8654520d9bd.txt"),
    Paper("robustsam", "RobustSAM: Segment Anything Robustly on Degraded Images", "CVPR 2024",
          "001_bad7de8a745e0582.txt"),
    Paper("ecocseg", "Towards Robust Pseudo-Label Learning in Semantic Segmentation: An Encoding Perspective",
          "NeurIPS 2025", "002_f052f799636b04fb.txt"),
    Paper("ruac", "Segment Anything with Robust Uncertainty-Accuracy Correlation", "preprint",
          "003_7e0065a301988cd4.txt"),
    Paper("sum", "Uncertainty-aware Fine-tuning of Segmentation Foundation Models", "NeurIPS 2024",
          "004_05c7ac3f4e6813be.txt"),
)}

# Pooled conditions that papers print as one number.
AGGREGATE_CONDITIONS = {
    "degraded": "pooled over the 15 Robust-Seg synthetic degradations",
    "average": "Robust-Seg degraded and clear pooled, weighted 15:1 (RobustSAM's 'Average')",
    "real": "pooled over a dataset's real adverse conditions (night, rain, snow, blur, low light, ...)",
}
CONDITIONS = frozenset(("clear", *SYNTHETIC_CONDITIONS, *REAL_CONDITIONS, *AGGREGATE_CONDITIONS))

METRICS = {
    "mIoU": "mean IoU over instances (RobustSAM prints 'IoU')",
    "mDice": "mean Dice over instances (RobustSAM prints 'Dice')",
    "mPA": "mean pixel accuracy over instances (RobustSAM prints 'PA')",
    "mBIoU": "mean boundary IoU over instances",
    "AP": "COCO mask AP", "AP50": "COCO mask AP at IoU 0.5", "AP75": "COCO mask AP at IoU 0.75",
    "APs": "COCO mask AP, small objects", "APm": "COCO mask AP, medium objects", "APl": "COCO mask AP, large objects",
    "NoC85": "mean number of clicks to reach IoU 0.85", "NoC90": "mean number of clicks to reach IoU 0.90",
    "AUROC": "area under ROC of pixel error detection from uncertainty",
    "AURC": "area under the risk-coverage curve",
    "PAvPU": "patch accuracy versus patch uncertainty",
    # semantic suites: from the confusion matrix summed over a cell's images (mmseg's definitions)
    "mIoU19": "semantic mIoU over the 19 Cityscapes classes",
    "mIoU16": "semantic mIoU over SYNTHIA's 16 classes (the Cityscapes 19 without terrain, truck, train)",
    "mIoU13": "semantic mIoU over 13 classes (SYNTHIA's 16 without wall, fence, pole; DAFormer's mIoU*)",
    "class IoU": "semantic IoU of every class (a table per suite, not one number)",
}
SEMANTIC_METRICS = ("mIoU19", "mIoU16", "mIoU13", "class IoU")
UNITS = {"fraction": 1.0, "percent": 100.0}  # printed value / UNITS[unit] = fraction

# Datasets as printed, lower-cased; "a+b" is one number pooled over several datasets.
DATASETS = {
    "msra10k": "MSRA10K", "lvis": "LVIS", "ndd20": "NDD20", "streets": "STREETS", "fss1000": "FSS-1000",
    "coco": "COCO", "bdd100k": "BDD100K", "lis": "LIS (low light instance segmentation)", "acdc": "ACDC",
    "ndd20+streets+fss1000": "NDD20, STREETS and FSS-1000 pooled (RobustSAM Table 4)",
    "bdd100k+lis": "BDD100K and LIS pooled (RobustSAM Tables 6-7)",
    "coift": "COIFT", "dis_vd": "DIS5K validation (DIS-VD)", "hrsod": "HRSOD", "thinobject5k": "ThinObject-5K val",
    "big": "BIG", "voceval": "VOCEVAL",
    "entityseg_0": "EntitySeg val set 0", "entityseg_1": "EntitySeg val set 1", "entityseg_2": "EntitySeg val set 2",
    "bodypart": "'Bodypart' (SUM's human parsing set; Multi-Human Parsing by its Sec. 4.1)",
    "easyportrait": "EasyPortrait", "fashionpedia": "Fashionpedia", "fashionpedia_subpart": "Fashionpedia subparts",
    "paco": "PACO",
    "sum_salient": "mean over SUM's 6 salient-object sets", "sum_entity": "mean over SUM's 3 entity sets",
    "sum_part": "mean over SUM's 5 part sets", "sum_all": "mean over all 14 SUM evaluation sets",
    "cityscapes": "Cityscapes", "egohos": "EgoHOS", "dram": "DRAM", "ishape": "iShape", "gta5": "GTA V (part one)",
    "trashcan": "TrashCan", "ibd": "IBD",
    # the Segment Anything paper's other zero-shot sets (RUAC's 23 domains, assumed)
    "ade20k": "ADE20K", "bbbc038": "BBBC038v1", "doors": "DOORS", "gtea": "GTEA", "hypersim": "Hypersim",
    "ndispark": "NDISPark", "ovis": "OVIS", "ppdls": "PPDLS", "plittersdorf": "Plittersdorf",
    "timberseg": "TimberSeg", "visor": "VISOR", "woodscape": "WoodScape", "pidray": "PIDRay",
    "zerowaste_f": "ZeroWaste-f",
}

PROMPTS = ("point", "box", "boundary_point")
# <first prompt>[@<rounds>][/single]: rounds counts the first prompt plus corrective points;
# /single = one output fixed in advance instead of the best of SAM's three (oracle).
PROTOCOL_RE = re.compile(rf"^(?P<prompt>{'|'.join(PROMPTS)})(?:@(?P<rounds>[2-9]|[1-9]\d+))?(?P<single>/single)?$")
