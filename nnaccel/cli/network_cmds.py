"""``nnaccel list``, ``nnaccel info`` and ``nnaccel validate``: looking at network files."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from nnaccel.cli.hwopts import SPARSITY, measured_spec
from nnaccel.cli.tables import Column, TableData, emit, format_option, stdout_console
from nnaccel.errors import NetworkError, NnaccelError
from nnaccel.hardware import Hardware
from nnaccel.loader import AUTO, bundled_networks, load_network
from nnaccel.network import Layer, Network


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _millions(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def _deviation(value: float, paper: float | None) -> float | None:
    return None if not paper else 100 * (value / paper - 1)


def _percent(d: float | None) -> str:
    return "" if d is None else f"{d:+.1f}%"


def network_summary(path_stem: str, network: Network) -> dict[str, Any]:
    """One row of ``nnaccel list``: our counts, the paper's, and how far apart they are."""
    paper_params = network.paper.get("params_m")
    paper_macs = network.paper.get("macs_m")
    return {
        "file": path_stem,
        "name": network.name,
        "input": list(network.input_shape),
        **({"inputs": {k: list(v) for k, v in network.inputs}} if network.inputs else {}),
        "inferred": network.inferred,
        "params": network.params,
        "macs": network.macs,
        "macs_paper_rule": network.macs_paper_rule,
        "paper_params_m": paper_params,
        "params_deviation_pct": _deviation(network.params / 1e6, paper_params),
        "paper_macs_m": paper_macs,
        "macs_paper_rule_deviation_pct": _deviation(network.macs_paper_rule / 1e6, paper_macs),
        "macs_deviation_pct": _deviation(network.macs / 1e6, paper_macs),
    }


LIST_COLUMNS = (
    Column("file", "file", numeric=False, priority=9),
    Column("network", "network", numeric=False, priority=8),
    Column("input", "input", numeric=False, priority=2),
    Column("def.", "definition", numeric=False, priority=3),
    Column("params", "params", priority=7),
    Column("paper params", "paper_params_m", priority=5),
    Column("Δ params", "params_deviation_pct", priority=5),
    Column("MACs (M)", "macs_m", priority=6),
    Column("MACs paper rule (M)", "macs_paper_rule_m", priority=4),
    Column("paper MACs (M)", "paper_macs_m", priority=4),
    Column("Δ MACs (rule)", "macs_paper_rule_deviation_pct", priority=3),
    Column("Δ MACs", "macs_deviation_pct", priority=1),
)


@click.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print every network's counts as a JSON list (all fields, unrounded).")
@format_option
def list_networks(as_json: bool, fmt: str) -> None:
    """Every bundled network, with its params and MACs next to the paper's.

    MACs count multiply-accumulates of conv/fc layers; "paper rule" adds one operation per
    output element, which is how the paper counts (within 0.1%). Δ columns are our count
    relative to the paper's. "inferred" marks networks no public file defines.
    """
    rows = [network_summary(p.stem, load_network(p)) for p in bundled_networks()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    cells = tuple((
        r["file"], r["name"], _shape(r["input"]),
        "inferred" if r["inferred"] else "public",
        f"{r['params']:,}",
        "" if r["paper_params_m"] is None else f"{r['paper_params_m']}M",
        _percent(r["params_deviation_pct"]),
        _millions(r["macs"]), _millions(r["macs_paper_rule"]),
        "" if r["paper_macs_m"] is None else f"{r['paper_macs_m']}",
        _percent(r["macs_paper_rule_deviation_pct"]), _percent(r["macs_deviation_pct"]))
        for r in rows)
    emit([TableData("Bundled networks (Δ = ours vs the paper's)", LIST_COLUMNS, cells)], fmt)


def layer_dict(layer: Layer, default_sparsity: float = Hardware.sparsity) -> dict[str, Any]:
    """A layer as ``nnaccel info --json`` prints it; a conv/fc layer without a sparsity of its
    own shows the hardware's, `default_sparsity`, with the source 'hardware'."""
    return {
        "name": layer.name,
        "type": layer.type,
        "inputs": list(layer.inputs),
        "input": list(layer.input_shape),
        "input_shapes": [list(s) for s in layer.input_shapes],
        "output": list(layer.output_shape),
        "kernel": list(layer.kernel),
        "stride": list(layer.stride),
        "padding": list(layer.padding),
        "groups": layer.groups,
        "bias": layer.bias,
        "batch_norm": layer.batch_norm,
        "ceil_mode": layer.ceil_mode,
        "params": layer.params,
        "macs": layer.macs,
        "macs_paper_rule": layer.macs_paper_rule,
        "elementwise_ops": layer.elementwise_ops,
        **({"sparsity": default_sparsity if layer.sparsity is None else layer.sparsity,
            "sparsity_source": _sparsity_source(layer)} if layer.type in ("conv", "fc", "linear")
           else {}),
        **{k: list(getattr(layer, k)) for k in ("dilation", "channels", "scale")
           if getattr(layer, k) != Layer.__dataclass_fields__[k].default},
        # the transformer kinds' fields, where set (docs/network-format.md)
        **{k: list(v) if isinstance(v, tuple) else v
           for k in ("axis", "perm", "shifts", "axes", "transpose_b", "function", "vocab",
                     "tied")
           if (v := getattr(layer, k)) != Layer.__dataclass_fields__[k].default},
        **({"learned": layer.learned} if layer.type == "constant" else {}),
        **({"mode": layer.mode} if layer.type == "upsample" else {}),
    }


def _sparsity_source(layer: Layer) -> str:
    return "hardware" if layer.sparsity is None else layer.sparsity_source or "file"


def network_dict(network: Network, default_sparsity: float = Hardware.sparsity) -> dict[str, Any]:
    """A network as ``nnaccel info --json`` prints it."""
    return {
        "name": network.name,
        "file": network.path,
        "source": network.source,
        "notes": network.notes,
        "input": list(network.input_shape),
        **({"inputs": {k: list(v) for k, v in network.inputs}} if network.inputs else {}),
        "output": list(network.output_shape),
        "params": network.params,
        "macs": network.macs,
        "macs_paper_rule": network.macs_paper_rule,
        "elementwise_ops": network.elementwise_ops,
        "paper": {k: list(v) if isinstance(v, tuple) else v for k, v in network.paper.items()},
        "layers": [layer_dict(layer, default_sparsity) for layer in network.layers],
    }


def _sparsity_cell(layer: Layer, default: float) -> tuple[str, str]:
    if layer.type not in ("conv", "fc", "linear"):
        return "", ""
    value = default if layer.sparsity is None else layer.sparsity
    return f"{value:.1%}", _sparsity_source(layer)


INFO_COLUMNS = (
    Column("#", "index", priority=2),
    Column("layer", "layer", numeric=False, priority=9),
    Column("type", "type", numeric=False, priority=6),
    Column("input", "input", numeric=False, priority=4),
    Column("output", "output", numeric=False, priority=5),
    Column("kernel", "kernel", numeric=False, priority=3),
    Column("stride", "stride", numeric=False, priority=3),
    Column("pad", "padding", numeric=False, priority=1),
    Column("groups", "groups", priority=2),
    Column("params", "params", priority=7),
    Column("MACs", "macs", priority=8),
    Column("elementwise ops", "elementwise_ops", priority=2),
    Column("sparsity", "sparsity", numeric=False, priority=4),
    Column("sparsity from", "sparsity_source", numeric=False, priority=3),
)


def _echo_json(data: dict[str, Any]) -> None:
    """`data` indented, but each layer on one line: json's indenting encoder is pure Python
    (~80 s for 330k layers), its compact one C (a few seconds); written as it goes."""
    layers = data.pop("layers")
    out = sys.stdout
    out.write(json.dumps(data, indent=2)[:-2] + ',\n  "layers": [\n')
    encode = json.JSONEncoder().encode
    for start in range(0, len(layers), 4096):
        chunk = layers[start:start + 4096]
        out.write(",\n".join("    " + encode(layer) for layer in chunk))
        out.write(",\n" if start + 4096 < len(layers) else "\n")
    out.write("  ]\n}\n")


@click.command()
@click.argument("net")
@click.option("--json", "as_json", is_flag=True,
              help="Print the network as one JSON object (every field of every layer).")
@click.option("--sparsity", type=SPARSITY, metavar="S|measured",
              help="The hardware's sparsity shown for layers without their own (default 0.4);"
                   " 'measured': each conv/fc layer's zeros in its actual weights (the default"
                   " where NET carries its weights: an ONNX model, an .npz beside a JSON file).")
@format_option
def info(net: str, as_json: bool, sparsity: float | str | None, fmt: str) -> None:
    """Layer by layer: shapes, kernel, stride, groups, params, MACs and weight sparsity of NET
    (a network file, a bundled name or an .onnx model)."""
    network = load_network(net, AUTO if sparsity is None else measured_spec(sparsity))
    default = Hardware.sparsity if sparsity is None or isinstance(sparsity, str) else sparsity
    if as_json:
        _echo_json(network_dict(network, default))
        return
    cells = []
    for i, layer in enumerate(network.layers, 1):
        windowed = layer.type in ("conv", "maxpool", "avgpool")
        kernel = _shape(layer.kernel) if windowed else ""
        if layer.dilation != (1, 1):
            kernel += f" d{_shape(layer.dilation)}"
        cells.append((
            str(i), layer.name, layer.type,
            " + ".join(_shape(s) for s in layer.input_shapes), _shape(layer.output_shape),
            kernel, _shape(layer.stride) if windowed else "",
            _shape(layer.padding) if windowed else "",
            str(layer.groups) if layer.type in ("conv", "shuffle") else "",
            f"{layer.params:,}", f"{layer.macs:,}", f"{layer.elementwise_ops:,}",
            *_sparsity_cell(layer, default)))
    cells.append(("", "total", "", _shape(network.input_shape), _shape(network.output_shape),
                  "", "", "", "", f"{network.params:,}", f"{network.macs:,}",
                  f"{network.elementwise_ops:,}", "", ""))
    table = TableData(f"{network.name} ({network.path})", INFO_COLUMNS, tuple(cells), keys=2,
                      caption=network.source, section_ends=frozenset({len(cells) - 2}))
    emit([table], fmt)
    if fmt == "table":
        console = stdout_console()
        console.print(f"MACs by the paper's rule (one more per conv/fc output): "
                      f"{network.macs_paper_rule:,}", soft_wrap=not console.is_terminal)
        if network.notes:
            console.print(network.notes, soft_wrap=not console.is_terminal)


@click.command()
@click.argument("nets", nargs=-1, required=True, metavar="NET...")
@click.option("--reference", is_flag=True,
              help="Also run the numpy reference: every shape and MAC count checked by "
                   "doing the work; for an .onnx model also onnxruntime: every modelled "
                   "tensor's shape and the parameter count against the initializers.")
def validate(nets: tuple[str, ...], reference: bool) -> None:
    """Check network files; one line per file, exit status 2 if any is bad."""
    failures = 0
    console = stdout_console()
    for net in nets:
        try:
            line = _validate_one(net, reference)
        except NnaccelError as exc:
            failures += 1
            click.echo(f"error: {' '.join(str(exc).split())}", err=True)
            continue
        # on a terminal, wrapped between words: never inside a number such as 277,999,808
        console.print(line, highlight=False, markup=False, soft_wrap=not console.is_terminal)
    if failures:
        raise SystemExit(2)


def _validate_one(net: str, reference: bool) -> str:
    network = load_network(net)
    line = (f"ok {network.path}: {network.name}, {len(network.layers)} layers, "
            f"{network.params:,} params, {network.macs:,} MACs")
    if not reference:
        return line
    from nnaccel.reference import MAX_ELEMENTS, layer_elements, run_reference  # numpy: on demand

    biggest = max(network.layers, key=layer_elements)
    if layer_elements(biggest) > MAX_ELEMENTS:
        raise NetworkError(network.path, f"too large for the numpy reference: layer "
                           f"'{biggest.name}' needs about {layer_elements(biggest):.3g} float32 "
                           f"values at once (limit 2**28, 1 GiB); validate it without --reference")

    run = run_reference(network)
    if not run.ok:
        raise NetworkError(network.path, "the numpy reference disagrees: " + run.problems[0])
    line += f"; reference ok ({run.seconds:.2f} s, {run.macs:,} MACs performed)"
    if network.path.lower().endswith(".onnx"):
        from nnaccel.onnxio import check_with_onnxruntime

        ort = check_with_onnxruntime(network.path, network)
        if not ort.ok:
            raise NetworkError(network.path, "onnxruntime disagrees: " + ort.problems[0])
        line += (f"; onnxruntime ok ({ort.tensors} tensors, {ort.params:,} params in the "
                 "initializers, batch norm's running statistics not counted)")
    return line
