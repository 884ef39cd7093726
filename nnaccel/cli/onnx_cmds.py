"""``nnaccel import`` and ``nnaccel export``: ONNX models in and out (docs/network-format.md, "ONNX")."""

from __future__ import annotations

import click

from nnaccel.cli.hwopts import SPARSITY, measured_spec
from nnaccel.errors import NnaccelError
from nnaccel.outputs import check_outputs


def _write_text(path: str, text: str) -> None:
    """Write `text` to `path` whole or not at all (never a half-written file)."""
    from nnaccel.report import write_atomic

    try:
        write_atomic(path, lambda f: f.write(text))
    except OSError as exc:
        raise NnaccelError(f"{path}: cannot write: {exc.strerror or exc}") from None


@click.command("import")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="FILE.json",
              help="Write the network file here (default: print it).")
@click.option("--sparsity", type=SPARSITY, metavar="measured",
              help="'measured': record each conv/fc layer's zeros in its weights as its own "
                   "sparsity.")
@click.option("--name", metavar="TEXT",
              help="The network's name (default: the graph's, when it has a real one, else "
                   "the file's stem).")
def import_cmd(model: str, output: str | None, sparsity: float | str | None,
               name: str | None) -> None:
    """Read an ONNX MODEL into a network file (deterministic: same model, same bytes).

    Every command that takes NET also reads an .onnx file directly; import writes the network
    file so it can be edited, diffed and checked in.

    Example: nnaccel import resnet18.onnx -o resnet18.json
    """
    from nnaccel.loader import load_network
    from nnaccel.netwrite import dumps_network

    if not model.lower().endswith(".onnx"):
        raise NnaccelError(f"{model}: expected an .onnx model")
    if sparsity is not None and not isinstance(sparsity, str):
        raise NnaccelError("--sparsity for import takes only 'measured'")
    check_outputs([("-o", output)], [model])  # before the model is read: it may be large
    network = load_network(model, measured_spec(sparsity), name=name)
    text = dumps_network(network)
    if output:
        _write_text(output, text)
        click.echo(f"wrote {output}: {network.name}, {len(network.layers)} layers, "
                   f"{network.params:,} params, {network.macs:,} MACs", err=True)
    else:
        click.echo(text, nl=False)


@click.command("export")
@click.argument("net")
@click.option("-o", "--output", required=True, metavar="FILE.onnx", help="The ONNX file to write.")
@click.option("--weights", type=click.Choice(("zeros", "random")), default="zeros",
              show_default=True,
              help="Weight values: zeros, or seeded random numbers (a layer's own sparsity "
                   "made real by zeroing its smallest weights).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random weights.")
def export_cmd(net: str, output: str, weights: str, seed: int) -> None:
    """Write NET (a network file or bundled name) as an ONNX model: open it in Netron or run it
    in onnxruntime; `nnaccel import` gives back the same network.

    Example: nnaccel export sqnxt23v5 -o sqnxt23v5.onnx
    """
    from nnaccel.loader import load_network, resolve_network
    from nnaccel.onnxio import export_onnx

    check_outputs([("-o", output)], [resolve_network(net)])
    network = load_network(net)
    export_onnx(network, output, weights=weights, seed=seed)
    click.echo(f"wrote {output}: {network.name}, {len(network.layers)} layers", err=True)
