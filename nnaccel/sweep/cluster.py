"""Running a sweep's tasks on a Dask distributed cluster (docs/sweep.md, "On a cluster").

The networks are scattered to the workers once; each task is a pure function call (a point
needs nothing but its networks and its hardware), and its rows come back to this process,
which alone writes the store, as each task finishes. Dask's scheduler reruns the tasks of a
worker that dies, so its points are recomputed, never lost. A worker must run the same model
(`point.model_version`), or its rows would be stored under the wrong key: it checks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nnaccel.errors import NnaccelError
from nnaccel.network import Network
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.local import Batch, OnDone
from nnaccel.sweep.point import CacheMap, Task, model_version, run_task

if TYPE_CHECKING:
    from distributed import Client, LocalCluster


#: Protocols of a scheduler address nnaccel connects to; the TLS ones need Dask's TLS settings.
PROTOCOLS = ("tcp", "tls", "ws", "wss")
_TLS = ("tls", "wss")

#: Dask settings of the cluster nnaccel starts itself (`local_cluster`), whose scheduler, nannies
#: and workers share this machine's cores with the work: a sweep's task is CPU-bound and
#: allocates many small Python objects (docs/sweep.md, "On a cluster", measured there).
#: - no statistical profiler: it samples the task's thread every 10 ms on the worker's event
#:   loop, for a dashboard a local cluster does not serve;
#: - the event loops' health check (tick), the machine's metrics (system monitor) and each
#:   worker's memory check once a second or less, not every 20, 500 and 100 ms: an idle
#:   2-worker cluster then takes 0.02 instead of 0.07 core-seconds a second;
#: - glibc's own trim threshold: Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in a worker's
#:   environment (for dataframe work that frees large blocks), which makes the worker give its
#:   heap back and fault it in again all the time: 17,000 page faults and 2-5% more CPU for
#:   four batches of the 1,200-point sweep. A MALLOC_TRIM_THRESHOLD_ set in this process's
#:   environment still wins (Dask reads it first).
CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


def connect(address: str | None, timeout_s: float = 10.0) -> Client:
    """A client of the scheduler at `address` (tcp://HOST:8786), or of a new local cluster of
    this machine's cores when `address` is None. Fails with one line if it cannot connect:
    an unsupported protocol, TLS without its settings, a scheduler that does not answer."""
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - a dependency of nnaccel
        raise SweepError(f"Dask distributed is not installed ({e})") from None
    if address is None:
        return Client(local_cluster())
    security = security_for(address)
    try:
        return Client(address, timeout=timeout_s, security=security)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise SweepError(f"cannot reach the Dask scheduler at {address}: {e}") from None


def local_cluster(n_workers: int | None = None) -> LocalCluster:
    """A Dask cluster of this machine: `n_workers` processes (default: one per core) of one
    thread each (the simulator is CPU-bound and holds the GIL), no dashboard, CLUSTER_CONFIG."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(CLUSTER_CONFIG):
        return LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1,
                            dashboard_address=None)


def security_for(address: str) -> Any:
    """Dask's TLS settings for a tls:// or wss:// address (None for the others), or
    SweepError for a protocol nnaccel does not use or TLS that is not set up."""
    from distributed.security import Security

    scheme, sep, rest = address.partition("://")
    scheme = scheme.lower() if sep else "tcp"
    if sep and not rest.strip():
        raise SweepError(f"--scheduler {address}: no host after {scheme}://")
    if scheme not in PROTOCOLS:
        raise SweepError(f"--scheduler {address}: protocol {scheme}:// is not supported; use"
                         " tcp://HOST:8786 (or tls://, ws://, wss:// with Dask's settings)")
    if scheme not in _TLS:
        return None
    security = Security()
    if security.get_connection_args("client").get("ssl_context") is None:
        raise SweepError(f"--scheduler {address}: {scheme}:// needs Dask's TLS settings, which"
                         " are not set: distributed.comm.tls.ca-file, .client.cert and"
                         " .client.key (e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE=ca.pem;"
                         " docs/sweep.md, 'On a cluster')")
    return security


def _worker_caches() -> CacheMap | None:
    """The caches of this Dask worker, kept on it across tasks (the networks are scattered
    once, so each keeps its lowering and the worker's recent points their searches)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # not in a worker (a task run in the client for debugging)
        return None
    # one per thread: a worker started with --nthreads N runs N tasks at once
    per_thread = getattr(worker, "_nnaccel_caches", None)
    if per_thread is None:
        per_thread = worker._nnaccel_caches = {}
    return per_thread.setdefault(threading.get_ident(), CacheMap())


def _remote(networks: list[Network], batch: Batch, version: str
            ) -> list[list[tuple[str, dict[str, Any]]]]:
    mine = model_version()
    if mine != version:
        raise NnaccelError(f"a Dask worker runs nnaccel model {mine}, this sweep {version};"
                           " install the same nnaccel on the workers")
    caches = _worker_caches()
    try:
        # `networks` are the batch's own (its tasks share them): numbered from 0 here
        return [run_task(networks, Task(t.point, tuple(range(len(networks))), t.keys, t.hashes,
                                        t.ladder), caches) for t in batch]
    except NnaccelError as e:
        raise NnaccelError(str(e)) from None


def _load_kernels() -> None:
    from nnaccel.engines import warm

    warm.compile_search()  # loads from the worker's numba cache (`nnaccel warm-up` filled it)


def _forget(dask_worker: Any) -> None:
    dask_worker.__dict__.pop("_nnaccel_caches", None)


def clear_caches(client: Client) -> None:
    """Every worker forgets what it kept of earlier sweeps (searches, lowered networks): the
    next sweep starts as on a new cluster (a measurement's repeats; memory back)."""
    client.run(_forget)


def warm_workers(client: Client) -> None:
    """Every worker loads the compiled kernels now, all at once (as a local pool's parent
    does before it forks): each worker's first task then starts warm."""
    client.run(_load_kernels)


def run_dask(client: Client, networks: Sequence[Network], batches: Sequence[Batch], version: str,
             on_done: OnDone) -> None:
    """Every batch of tasks on the cluster behind `client`; `on_done` here as each finishes."""
    from distributed import as_completed

    if not batches:
        return
    warm_workers(client)
    # hash=False: Dask would otherwise tokenize every layer of every network to name the data
    # (0.3-0.4 s of the 1,200-point sweep's 3.5 s on two local workers); the keys are unique
    scattered = client.scatter(list(networks), broadcast=True, hash=False)
    futures = {}
    for batch in batches:
        args = [scattered[i] for i in batch[0].networks]
        futures[client.submit(_remote, args, batch, version, pure=False)] = batch
    try:
        for future in as_completed(futures):
            try:
                results = future.result()
            except NnaccelError as e:
                raise NnaccelError(str(e)) from None
            for task, rows in zip(futures[future], results, strict=True):
                on_done(task, rows)
    finally:
        client.cancel(list(futures))
