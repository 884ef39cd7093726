"""The paper's figures for each network, copied from its Tables 1-3.

The two tables below are verbatim copies of the project's ``data/paper_table3.csv`` and
``data/paper_accuracy.csv`` (Tables 1 and 2), kept here so that the network files can be
regenerated without those files at hand. Table 3 wins where both list a network (it gives
2.0-SqNxt-23v5's params as 3.23 where Table 2 rounds to 3.2).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

_TABLE3 = """\
model,params_m,macs_m,top1,top5,depth,time_8x8_32KB,energy_8x8_32KB,time_16x16_128KB,energy_16x16_128KB
AlexNet,60.9,725,57.10,80.30,,5.46,1.6e10,8.26,1.5e10
SqueezeNet v1.0,1.2,837,57.50,80.30,,3.42,6.7e9,2.59,4.5e9
SqueezeNet v1.1,1.2,352,57.10,80.30,,1.60,3.3e9,1.31,2.4e9
Tiny Darknet,1.0,495,58.70,81.70,,1.92,3.8e9,1.50,2.5e9
1.0-SqNxt-23,0.72,282,58.98,82.33,"[6,6,8,1]",1.17,3.2e9,1.22,2.5e9
1.0-SqNxt-23v2,0.74,228,58.55,82.09,"[6,6,8,1]",1.00,2.8e9,1.13,2.4e9
1.0-SqNxt-23v3,0.74,228,58.18,81.96,"[4,8,8,1]",1.00,2.7e9,1.08,2.3e9
1.0-SqNxt-23v4,0.77,228,59.09,82.41,"[2,10,8,1]",1.00,2.6e9,1.02,2.2e9
1.0-SqNxt-23v5,0.94,228,59.24,82.41,"[2,4,14,1]",1.00,2.6e9,1.00,2.0e9
MobileNet,4.2,574,67.50,86.59,,2.94,9.1e9,2.60,5.8e9
2.0-SqNxt-23,2.4,749,67.18,88.17,"[6,6,8,1]",3.24,8.1e9,2.72,5.9e9
2.0-SqNxt-23v4,2.56,708,66.95,87.89,"[2,10,8,1]",3.17,7.5e9,2.55,5.4e9
2.0-SqNxt-23v5,3.23,708,67.44,88.20,"[2,4,14,1]",3.17,7.4e9,2.55,5.4e9
"""

_ACCURACY = """\
model,table,top1,top5,params_m
AlexNet,1,57.10,80.30,60.9
SqueezeNet,1,57.50,80.30,1.2
1.0-SqNxt-23,1,58.98,82.33,0.72
1.0-G-SqNxt-23,1,56.88,80.83,0.54
1.0-SqNxt-23-IDA,1,60.35,83.56,0.9
1.0-SqNxt-34,1,61.39,84.31,1.0
1.0-SqNxt-34-IDA,1,62.56,84.93,1.3
1.0-SqNxt-44,1,62.64,85.15,1.2
1.0-SqNxt-44-IDA,1,63.75,85.97,1.5
1.5-SqNxt-23,2,63.52,85.15,1.4
1.5-SqNxt-34,2,65.99,87.40,2.1
1.5-SqNxt-44,2,67.27,88.15,2.6
VGG-19,2,68.50,88.50,138
2.0-SqNxt-23,2,67.18,88.17,2.4
2.0-SqNxt-34,2,68.46,88.78,3.8
2.0-SqNxt-44,2,69.08,89.36,4.4
MobileNet,2,67.50,86.59,4.2
2.0-SqNxt-23v5,2,67.44,88.20,3.2
"""

# Table 1 calls SqueezeNet v1.0 just "SqueezeNet" (same accuracy as Table 3's v1.0 row).
_ALIASES = {"SqueezeNet": "SqueezeNet v1.0"}


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "e" not in text and "." not in text else value


def _rows(text: str, skip: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        model = row.pop("model")
        name = _ALIASES.get(model, model)
        out[name] = {
            key: json.loads(value) if key == "depth" else _number(value)
            for key, value in row.items() if value and key not in skip
        }
    return out


def paper_figures(name: str) -> dict[str, Any]:
    """Every figure the paper gives for the network called ``name`` (may be empty)."""
    figures: dict[str, Any] = {}
    for table in (_rows(_ACCURACY, skip=("table",)), _rows(_TABLE3, skip=())):
        figures.update(table.get(name, {}))
    return figures
