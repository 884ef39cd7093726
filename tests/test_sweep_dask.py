"""A sweep on a Dask LocalCluster of two workers equals the local run, bit for bit."""

from __future__ import annotations

import pytest

from nnaccel.sweep import build_spec, run_sweep

distributed = pytest.importorskip("distributed")

NETS = ["sqnxt23v5", "squeezenet-v1.1", "mobilenet"]
AXES = {"array": "8x8,16x16", "buffer": "32KB,128KB", "sparsity": "0,0.4"}


def test_local_cluster_equals_local_run(tmp_path):
    local = run_sweep(build_spec(NETS, AXES), tmp_path / "local.db", jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = run_sweep(build_spec(NETS, AXES), tmp_path / "dask.db", client=client)
        assert remote.computed == 24
        assert remote.rows == local.rows
        # results streamed into the store: a rerun on the cluster computes nothing
        assert run_sweep(build_spec(NETS, AXES), tmp_path / "dask.db", client=client).computed == 0


def test_a_worker_of_another_model_version_is_refused(tmp_path, monkeypatch):
    from nnaccel.errors import NnaccelError

    monkeypatch.setattr("nnaccel.sweep.cluster.model_version", lambda: "0.0.0+other")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            pytest.raises(NnaccelError, match="another|install the same nnaccel"):
        run_sweep(build_spec(["sqnxt23v5"], {"array": "8x8"}), tmp_path / "d.db", client=client)


def _worker_settings() -> tuple[str | None, bool]:
    import os

    import dask

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get(
        "distributed.worker.profile.enabled")


def _has_caches(dask_worker) -> bool:
    return hasattr(dask_worker, "_nnaccel_caches")


def test_a_lost_workers_points_are_recomputed(tmp_path, monkeypatch):
    from nnaccel.sweep.cluster import clear_caches, local_cluster

    nets, axes = NETS[:2], {"array": "4x4,8x8,16x16", "buffer": "32KB,64KB,128KB"}
    local = run_sweep(build_spec(nets, axes), tmp_path / "local.db", jobs=1)
    # Dask's nanny would give each worker MALLOC_TRIM_THRESHOLD_=65536; nnaccel's cluster keeps
    # glibc's own, and runs no profiler (docs/sweep.md, "On a cluster")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        assert set(client.run(_worker_settings).values()) == {(None, False)}
        killed = []

        def kill_one(done: int, total: int) -> None:
            if done and not killed:  # after the first task: the others are queued or running
                nanny = next(iter(cluster.workers.values()))
                nanny.process.process.kill()
                killed.append(done)

        remote = run_sweep(build_spec(nets, axes), tmp_path / "dask.db", client=client,
                           progress=kill_one)
        assert any(client.run(_has_caches).values())  # the survivor's, kept for a next sweep
        clear_caches(client)
        assert not any(client.run(_has_caches).values())
    assert killed and remote.computed == len(local.rows)
    assert remote.rows == local.rows


def test_dask_flag_runs_on_a_local_dask_cluster(tmp_path):
    import pandas as pd
    from click.testing import CliRunner

    from nnaccel.cli import main

    args = ["sweep", "sqnxt23v5", "alexnet", "--array", "8x8,16x16", "-q"]
    r1 = CliRunner().invoke(main, [*args, "--store", str(tmp_path / "a.db"), "--dask",
                                   "--csv", str(tmp_path / "a.csv")])
    r2 = CliRunner().invoke(main, [*args, "--store", str(tmp_path / "b.db"), "-j", "1",
                                   "--csv", str(tmp_path / "b.csv")])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    assert "4 computed" in r1.output
    assert pd.read_csv(tmp_path / "a.csv").equals(pd.read_csv(tmp_path / "b.csv"))
