"""Committed transactions per second and evaluate calls per second on a local CareLedger network.

    python benchmarks/throughput.py [--clients 1,8,32] [--seconds 15] [--runs 3] [--json]

Starts its own network (orderer and three peers as processes, TLS on loopback) in a temporary
directory from benchmarks/network.toml, warms it up, then measures closed loops: each client
submits create_asset with a fresh id through Contract.submit_transaction, as an application does
(endorse, then one Submit that waits for the commit), again and again, for a fixed time. A
transaction counts when it commits VALID inside the window; its latency runs from the call to its
return. Then clients call read_asset the same way.

Clients live in worker processes (one GIL each) with their own Gateway, threads inside them; the
driver only hands out jobs and adds up. Each point is measured --runs times, interleaved, and the
median is reported, since the machine is shared and noisy. The CPU time every node and worker used
is sampled per point, so a slow number comes with where the cores went, and is divided by the
committed transactions with the context switches of every node's threads (/proc/PID/task/*/
status): those two per-tx figures move far less than tx/s when others share the machine.

Diagnostics: --stages times endorse, submit and commit wait apart (the offline-style steps:
Submit without waiting, then CommitStatus); --ping measures health checks/s
(the floor cost of an RPC); --gateways spreads workers over orgs' gateway peers; --py-spy DIR
profiles every node and worker (summarise with benchmarks/pyspy_top.py). It measures whichever
`careledger` it imports: to measure a commit while the tree is being edited, install
`git archive` of that commit into a scratch venv and run this file with that venv's python.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from careledger.gateway import CommitError, Contract, GatewayError, Status
from careledger.network.config import Layout
from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork, local_network

CONFIG = Path(__file__).with_name("network.toml")
CHANNEL = "healthcare"
CONTRACT = "basic"
CLIENT = "hospital:alice"
READ_ID = "bench-read"
TARGET_TX_PER_S = 300.0  # at 32 clients, from the issue
TARGET_EVAL_PER_S = 1500.0
TARGET_CPU_MS_PER_TX = 4.0  # server CPU per committed tx at 32 clients (issue 11)
TARGET_SWITCHES_PER_TX = 60.0  # server context switches per committed tx at 32 clients
ERROR_PAUSE = 0.05  # a failing client backs off a little instead of spinning


# -- jobs and their results (crossing the process boundary, so plain picklable dataclasses) --------


@dataclass(frozen=True)
class Job:
    """What one worker process runs: `threads` closed-loop clients from `start_at` for `seconds`."""

    kind: str  # "submit", "evaluate" or "ping" (the standard health check: an RPC that does nothing)
    threads: int
    start_at: float  # wall clock (time.time()), the same for every worker of a point
    seconds: float
    tag: str  # makes asset ids unique per point
    stages: bool = False  # time endorse, submit and commit wait separately


@dataclass
class JobResult:
    """One worker's (or a whole point's) counts and latencies in seconds."""

    ok: int = 0
    failed: int = 0
    late: int = 0  # answered successfully, but after the window closed: not counted
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0
    switches: int = 0  # voluntary + involuntary context switches of the worker process
    stages: dict[str, list[float]] = field(default_factory=dict)  # with Job.stages: seconds per step

    def add(self, other: JobResult) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.late += other.late
        self.latencies.extend(other.latencies)
        self.errors.update(other.errors)
        self.cpu_seconds += other.cpu_seconds
        self.switches += other.switches
        for stage, values in other.stages.items():
            self.stages.setdefault(stage, []).extend(values)


def _submit_in_stages(contract: Contract, asset_id: str, seq: int, out: JobResult) -> Status:
    """What submit_async then get_status do, one step at a time, timing each step."""
    t0 = time.perf_counter()
    transaction = contract.new_proposal("create_asset", [asset_id, "bench", str(seq)]).endorse()
    t1 = time.perf_counter()
    commit = transaction.submit()
    t2 = time.perf_counter()
    status = commit.get_status()
    t3 = time.perf_counter()
    if status.successful:
        for stage, seconds in (("endorse", t1 - t0), ("submit", t2 - t1), ("commit", t3 - t2)):
            out.stages.setdefault(stage, []).append(seconds)
    return status


class Ping:
    """The gateway peer's standard health check over TLS: the cost of an RPC that does nothing."""

    def __init__(self, directory: Path, who: str) -> None:
        org = who.partition(":")[0]
        profile = json.loads((directory / "network.json").read_text())
        peer = next(p for p in profile["peers"] if p["org"] == org)
        layout = Layout(directory)
        root = layout.ca_cert(org).read_bytes()
        user = layout.identity_dir(org, who.partition(":")[2] or "admin")  # peers require mutual TLS
        self._channel = grpc.secure_channel(peer["address"], grpc.ssl_channel_credentials(
            root, (user / "key.pem").read_bytes(), (user / "cert.pem").read_bytes()))
        self._check = health_pb2_grpc.HealthStub(self._channel).Check

    def __call__(self) -> bool:
        reply = self._check(health_pb2.HealthCheckRequest(), timeout=10)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def close(self) -> None:
        self._channel.close()


def _client_loop(contract: Contract, ping: Ping, job: Job, name: str, out: JobResult) -> None:
    """One client: call, wait for the answer, record, repeat until the window closes."""
    end = job.start_at + job.seconds
    time.sleep(max(0.0, job.start_at - time.time()))
    seq = 0
    while time.time() < end:
        seq += 1
        began = time.perf_counter()
        try:
            if job.kind == "submit":
                asset_id = f"{job.tag}-{name}-{seq}"
                if job.stages:
                    status = _submit_in_stages(contract, asset_id, seq, out)
                    success, why = status.successful, status.code_name
                else:  # raises CommitError unless VALID
                    contract.submit_transaction("create_asset", asset_id, "bench", str(seq))
                    success, why = True, ""
            elif job.kind == "evaluate":
                contract.evaluate_transaction("read_asset", READ_ID)
                success, why = True, ""
            else:
                success, why = ping(), "NOT_SERVING"
        except CommitError as exc:
            success, why = False, exc.code_name
        except GatewayError as exc:
            success, why = False, type(exc).__name__ + ": " + str(exc).split("\n")[0][:120]
        except grpc.RpcError as exc:
            success, why = False, f"RpcError: {exc.code()}"
        elapsed = time.perf_counter() - began
        if not success:
            out.failed += 1
            out.errors[why] += 1
            time.sleep(ERROR_PAUSE)
        elif time.time() <= end:
            out.ok += 1
            out.latencies.append(elapsed)
        else:
            out.late += 1


def _run_job(contract: Contract, ping: Ping, job: Job, worker: int) -> JobResult:
    cpu_before, switches_before = _own_cpu_seconds(), _own_switches()
    results = [JobResult() for _ in range(job.threads)]
    threads = [
        threading.Thread(
            target=_client_loop, args=(contract, ping, job, f"w{worker}t{i}", results[i]), daemon=True
        )
        for i in range(job.threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = JobResult()
    for r in results:
        total.add(r)
    total.cpu_seconds = _own_cpu_seconds() - cpu_before
    total.switches = _own_switches() - switches_before
    return total


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _own_switches() -> int:
    """Context switches of this process, all its threads (getrusage counts exited ones too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def worker_main(directory: str, who: str, worker: int, conn: Connection) -> None:
    """A worker process: one Gateway, then jobs from the driver until it sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops us
    net_dir = Path(directory)
    from careledger.gateway import connect_local

    ping = Ping(net_dir, who)
    try:
        with connect_local(net_dir, who) as gateway:
            contract = gateway.get_network(CHANNEL).get_contract(CONTRACT)
            conn.send("ready")
            while (job := conn.recv()) is not None:
                conn.send(_run_job(contract, ping, job, worker))
    finally:
        ping.close()


class Workers:
    """A few client processes, each with its own Gateway; `run` spreads clients over them.

    Worker i connects as who[i % len(who)], so the gateway role can be spread over orgs' peers.
    """

    def __init__(self, net: LocalNetwork, processes: int, who: Sequence[str] = (CLIENT,)) -> None:
        ctx = multiprocessing.get_context("spawn")  # gRPC does not survive fork
        self._conns: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for i in range(processes):
            here, there = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main, args=(str(net.directory), who[i % len(who)], i, there),
                name=f"bench-worker-{i}",
                daemon=True,
            )
            proc.start()
            self._conns.append(here)
            self.procs.append(proc)
        try:
            for conn in self._conns:
                if not conn.poll(60) or conn.recv() != "ready":
                    raise RuntimeError("a benchmark worker did not connect within 60 s")
        except (EOFError, RuntimeError) as exc:
            self.close()
            raise RuntimeError(f"benchmark workers failed to start: {exc!r}") from exc

    def run(self, kind: str, clients: int, seconds: float, tag: str, stages: bool = False) -> JobResult:
        """Run `clients` closed-loop clients for `seconds` and return the summed result."""
        n = len(self._conns)
        shares = [clients // n + (1 if i < clients % n else 0) for i in range(n)]
        start_at = time.time() + 0.3
        busy = []
        for conn, threads in zip(self._conns, shares, strict=True):
            if threads:
                conn.send(Job(kind, threads, start_at, seconds, tag, stages))
                busy.append(conn)
        total = JobResult()
        for conn in busy:
            if not conn.poll(seconds + 120):
                raise RuntimeError(f"a benchmark worker did not finish {kind} x{clients} in time")
            total.add(conn.recv())
        return total

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


# -- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One measured point of one run."""

    kind: str
    clients: int
    run: int
    per_second: float
    p50_ms: float
    p99_ms: float
    ok: int
    failed: int
    late: int
    errors: dict[str, int]
    cpu_percent: dict[str, float]  # of one core, per node and for the client workers
    cpu_ms_per_tx: dict[str, float]  # per committed tx (per call for evaluate): nodes, servers, clients
    switches_per_tx: dict[str, float]  # voluntary + involuntary context switches, the same way
    blocks: int  # blocks the orderer cut during the point
    tx_per_block: float
    stages_p50_ms: dict[str, float]  # with --stages: endorse, submit, commit wait


@dataclass(frozen=True)
class Summary:
    """The median over runs of one point."""

    kind: str
    clients: int
    per_second: float
    p50_ms: float
    p99_ms: float
    runs_per_second: list[float]
    failed: int
    cpu_percent: dict[str, float]
    cpu_ms_per_tx: dict[str, float]
    switches_per_tx: dict[str, float]
    tx_per_block: float
    stages_p50_ms: dict[str, float]


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_cpu_seconds() -> float:
    """Non-idle CPU time of the whole machine (all cores) from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _proc_tree(pid: int) -> list[int]:
    """pid and its descendants (a node's helper processes, if any)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], ()))
    return found


def _proc_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of a process's live threads, from
    /proc/PID/task/*/status (a thread that exits meanwhile takes its count with it; the nodes'
    pools keep their threads, so this undercounts little)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        total += sum(int(n) for n in re.findall(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", text, re.M))
    return total


@dataclass(frozen=True)
class Usage:
    """CPU seconds and context switches of each node (its process tree, all threads) at an instant."""

    cpu: dict[str, float]
    switches: dict[str, int]

    @classmethod
    def now(cls, pids: dict[str, int]) -> Usage:
        trees = {node: _proc_tree(pid) for node, pid in pids.items()}
        return cls(
            cpu={node: sum(_proc_cpu_seconds(p) for p in tree) for node, tree in trees.items()},
            switches={node: sum(_proc_switches(p) for p in tree) for node, tree in trees.items()},
        )


def node_pids(net: LocalNetwork) -> dict[str, int]:
    """pid of every node of the network, by node id."""
    return {k: int(v) for k, v in json.loads(net.layout.pids.read_text()).items()}


class BlockLog:
    """Counts the blocks the orderer cuts, from the lines its log gains (`cut block N with M ...`)."""

    def __init__(self, net: LocalNetwork) -> None:
        orderer = net.profile.orderers[0]
        self._path = net.layout.node_log(orderer)
        self._offset = self._size()

    def _size(self) -> int:
        try:
            return self._path.stat().st_size
        except OSError:
            return 0

    def since_last(self) -> tuple[int, int]:
        """(blocks, transactions) cut since the previous call."""
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            new = f.read()
        self._offset += len(new)
        sizes = [int(m) for m in re.findall(rb"cut block \d+ with (\d+) transactions", new)]
        return len(sizes), sum(sizes)


def measure(
    workers: Workers, pids: dict[str, int], blocks: BlockLog, kind: str, clients: int, seconds: float,
    run: int, stages: bool = False,
) -> Sample:
    blocks.since_last()
    before = Usage.now(pids)
    busy_before = _busy_cpu_seconds()
    began = time.monotonic()
    result = workers.run(kind, clients, seconds, tag=f"{kind}-r{run}-c{clients}", stages=stages)
    wall = time.monotonic() - began
    after = Usage.now(pids)
    used = {node: after.cpu[node] - before.cpu[node] for node in pids}
    switched = {node: after.switches[node] - before.switches[node] for node in pids}
    # per answered call: the window's successes plus the late ones, whose work the nodes did too
    calls = max(1, result.ok + result.late)
    cpu_ms = {node: 1000 * v / calls for node, v in used.items()}
    cpu_ms["servers"] = sum(cpu_ms.values())
    cpu_ms["clients"] = 1000 * result.cpu_seconds / calls
    per_tx = {node: v / calls for node, v in switched.items()}
    per_tx["servers"] = sum(per_tx.values())
    per_tx["clients"] = result.switches / calls
    cpu = {node: 100 * v / wall for node, v in used.items()}
    cpu["clients"] = 100 * result.cpu_seconds / wall
    # whatever else the machine did meanwhile (other users, the driver, py-spy): the noise
    cpu["other"] = max(0.0, 100 * (_busy_cpu_seconds() - busy_before) / wall - sum(cpu.values()))
    cut, txs = blocks.since_last()
    return Sample(
        kind=kind,
        clients=clients,
        run=run,
        per_second=result.ok / seconds,
        p50_ms=1000 * _percentile(result.latencies, 0.50),
        p99_ms=1000 * _percentile(result.latencies, 0.99),
        ok=result.ok,
        failed=result.failed,
        late=result.late,
        errors=dict(result.errors.most_common(5)),
        cpu_percent={k: round(v, 1) for k, v in cpu.items()},
        cpu_ms_per_tx={k: round(v, 2) for k, v in cpu_ms.items()},
        switches_per_tx={k: round(v, 1) for k, v in per_tx.items()},
        blocks=cut,
        tx_per_block=round(txs / cut, 1) if cut else 0.0,
        stages_p50_ms={k: round(1000 * _percentile(v, 0.5), 1) for k, v in result.stages.items()},
    )


def summarise(samples: list[Sample]) -> Summary:
    first = samples[0]
    cpu_keys = first.cpu_percent.keys()
    return Summary(
        kind=first.kind,
        clients=first.clients,
        per_second=statistics.median(s.per_second for s in samples),
        p50_ms=statistics.median(s.p50_ms for s in samples),
        p99_ms=statistics.median(s.p99_ms for s in samples),
        runs_per_second=[round(s.per_second, 1) for s in samples],
        failed=sum(s.failed for s in samples),
        cpu_percent={k: round(statistics.median(s.cpu_percent[k] for s in samples), 1) for k in cpu_keys},
        cpu_ms_per_tx={k: round(statistics.median(s.cpu_ms_per_tx[k] for s in samples), 2)
                       for k in first.cpu_ms_per_tx},
        switches_per_tx={k: round(statistics.median(s.switches_per_tx[k] for s in samples), 1)
                         for k in first.switches_per_tx},
        tx_per_block=statistics.median(s.tx_per_block for s in samples),
        stages_p50_ms={
            k: statistics.median(s.stages_p50_ms[k] for s in samples) for k in first.stages_p50_ms
        },
    )


@contextmanager
def bench_network(config: Path) -> Iterator[LocalNetwork]:
    """A network in a fresh temporary directory; no node outlives it, not even after a failed start."""
    directory = Path(tempfile.mkdtemp(prefix="careledger-bench-"))
    try:
        with local_network(config, directory) as net:
            yield net
    finally:
        launcher.down(directory)  # the nodes a start-up that failed half-way left running
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def py_spy(
    out_dir: Path, targets: dict[str, int], label: str, seconds: float, rate: int
) -> Iterator[None]:
    """Sample each target pid with `py-spy record --gil` (collapsed stacks) while the block runs.

    --gil keeps only samples where a thread holds the GIL, so a file's sample count divided by
    rate x duration is how busy that process's interpreter was.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            ["py-spy", "record", "--gil", "--pid", str(pid), "--rate", str(rate),
             "--duration", str(int(seconds) + 1), "--format", "raw", "--nonblocking",
             "-o", str(out_dir / f"{label}-{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for name, pid in targets.items()
    ]
    try:
        yield
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(timeout=10)


def run_benchmark(args: argparse.Namespace, log: Progress) -> dict[str, object]:
    samples: list[Sample] = []
    with ExitStack() as stack:
        log(f"starting the network from {args.config}")
        net = stack.enter_context(bench_network(args.config))
        pids = node_pids(net)
        blocks = BlockLog(net)
        with net.connect(CLIENT) as gateway:
            contract = gateway.get_network(CHANNEL).get_contract(CONTRACT)
            contract.submit_transaction("create_asset", READ_ID, "bench", "0")
        workers = Workers(net, args.processes, args.gateways)
        stack.callback(workers.close)
        targets = {**pids, **{f"worker{i}": p.pid for i, p in enumerate(workers.procs) if p.pid}}
        log(f"warming up for {args.warmup:g} s")
        workers.run("submit", max(args.clients), args.warmup, tag="warmup")
        if args.eval_clients:
            workers.run("evaluate", args.eval_clients, min(args.warmup, 2.0), tag="warmup")
        for run in range(1, args.runs + 1):
            points = [("submit", c) for c in args.clients]
            points += [("evaluate", args.eval_clients)] if args.eval_clients else []
            points += [("ping", args.eval_clients or max(args.clients))] if args.ping else []
            for kind, clients in points:
                profile = args.py_spy is not None and run == 1 and (
                    kind != "submit" or clients == max(args.clients)
                )
                with ExitStack() as spy:
                    if profile:
                        spy.enter_context(
                            py_spy(args.py_spy, targets, f"{kind}-{clients}", args.seconds, args.py_spy_rate)
                        )
                    sample = measure(workers, pids, blocks, kind, clients, args.seconds, run, args.stages)
                samples.append(sample)
                log(
                    f"run {run}/{args.runs} {kind:8} x{clients:<3} {sample.per_second:8.1f}/s  "
                    f"p50 {sample.p50_ms:7.1f} ms  p99 {sample.p99_ms:7.1f} ms  failed {sample.failed}  "
                    f"servers {sample.cpu_ms_per_tx['servers']:.2f} ms CPU "
                    f"{sample.switches_per_tx['servers']:.0f} switches per call"
                )
        log("stopping the network")
    groups: dict[tuple[str, int], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.kind, s.clients), []).append(s)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(),
        "config": str(args.config),
        "seconds": args.seconds,
        "runs": args.runs,
        "processes": args.processes,
        "gateways": args.gateways,
        "targets": {"submit_tx_per_s_at_32": TARGET_TX_PER_S, "evaluate_per_s": TARGET_EVAL_PER_S},
        "summary": [asdict(summarise(g)) for g in groups.values()],
        "samples": [asdict(s) for s in samples],
    }


# -- output ------------------------------------------------------------------------------------------


class Progress:
    """Progress lines on stderr, so stdout carries only the table or the JSON."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet
        self._t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self._quiet:
            print(f"[{time.monotonic() - self._t0:6.1f}s] {message}", file=sys.stderr, flush=True)


def format_table(report: dict[str, object]) -> str:
    summary = report["summary"]
    assert isinstance(summary, list)
    lines = [
        f"CareLedger throughput, {report['date']}, {report['cpus']} CPUs, median of {report['runs']} "
        f"runs x {report['seconds']} s, clients in {report['processes']} worker processes",
        "",
        f"{'call':<9} {'clients':>7} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>6} "
        f"{'tx/block':>8}  runs (per s)",
    ]
    for s in summary:
        call = s["kind"]
        runs = ", ".join(f"{v:.1f}" for v in s["runs_per_second"])
        lines.append(
            f"{call:<9} {s['clients']:>7} {s['per_second']:>9.1f} {s['p50_ms']:>8.1f} "
            f"{s['p99_ms']:>8.1f} {s['failed']:>6} {s['tx_per_block']:>8.1f}  {runs}"
        )
    lines += ["", "CPU, % of one core (median over runs):"]
    nodes = list(summary[0]["cpu_percent"]) if summary else []
    lines.append(f"{'call':<9} {'clients':>7} " + " ".join(f"{n.split('.')[-1]:>9}" for n in nodes))
    for s in summary:
        lines.append(
            f"{s['kind']:<9} {s['clients']:>7} " + " ".join(f"{s['cpu_percent'][n]:>9.1f}" for n in nodes)
        )
    lines += ["", "Per committed tx (per call for evaluate), median over runs: "
              "CPU ms / context switches (voluntary + involuntary, all threads):"]
    keys = list(summary[0]["cpu_ms_per_tx"]) if summary else []
    lines.append(f"{'call':<9} {'clients':>7} " + " ".join(f"{k.split('.')[-1]:>13}" for k in keys))
    for s in summary:
        cells = (f"{s['cpu_ms_per_tx'][k]:.2f} / {s['switches_per_tx'][k]:.0f}" for k in keys)
        lines.append(f"{s['kind']:<9} {s['clients']:>7} " + " ".join(f"{c:>13}" for c in cells))
    staged = [s for s in summary if s["stages_p50_ms"]]
    if staged:
        lines += ["", "p50 ms per step of a submit (--stages):"]
        for s in staged:
            steps = "  ".join(f"{k} {v:.1f}" for k, v in s["stages_p50_ms"].items())
            lines.append(f"{s['kind']:<9} {s['clients']:>7}  {steps}")
    top = max((s for s in summary if s["kind"] == "submit"), key=lambda s: s["clients"], default=None)
    evaluate = next((s for s in summary if s["kind"] == "evaluate"), None)
    lines.append("")
    if top is not None:
        verdict = "met" if top["per_second"] >= TARGET_TX_PER_S else "MISSED"
        lines.append(
            f"target: >= {TARGET_TX_PER_S:.0f} committed tx/s at 32 clients: {verdict} "
            f"({top['per_second']:.1f} at {top['clients']})"
        )
        cpu_ms, switches = top["cpu_ms_per_tx"]["servers"], top["switches_per_tx"]["servers"]
        lines.append(
            f"target: <= {TARGET_CPU_MS_PER_TX:.0f} ms server CPU per committed tx: "
            f"{'met' if cpu_ms <= TARGET_CPU_MS_PER_TX else 'MISSED'} ({cpu_ms:.2f})"
        )
        lines.append(
            f"target: <= {TARGET_SWITCHES_PER_TX:.0f} server context switches per committed tx: "
            f"{'met' if switches <= TARGET_SWITCHES_PER_TX else 'MISSED'} ({switches:.0f})"
        )
    if evaluate is not None:
        verdict = "met" if evaluate["per_second"] >= TARGET_EVAL_PER_S else "MISSED"
        lines.append(
            f"target: >= {TARGET_EVAL_PER_S:.0f} evaluate calls/s: {verdict} ({evaluate['per_second']:.1f})"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="submit client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measured point")
    parser.add_argument("--runs", type=int, default=3, help="runs per point; the median is reported")
    parser.add_argument(
        "--eval-clients", type=int, default=32, help="clients of the evaluate point; 0 skips it"
    )
    parser.add_argument("--processes", type=int, default=2, help="client worker processes")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--config", type=Path, default=CONFIG, help="network TOML")
    parser.add_argument(
        "--gateways", default=CLIENT,
        help="ORG:USER per worker, comma-separated, round-robin (e.g. hospital:alice,insurer:ivan)",
    )
    parser.add_argument(
        "--ping", action="store_true", help="also measure health checks/s: the floor cost of an RPC"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--stages", action="store_true",
        help="time endorse, submit and commit wait apart (same calls as submit_async + get_status)",
    )
    parser.add_argument(
        "--py-spy", type=Path, metavar="DIR",
        help="profile every node and worker with py-spy during run 1's largest points (skews it)",
    )
    parser.add_argument("--py-spy-rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    args.gateways = [g.strip() for g in args.gateways.split(",") if g.strip()]
    if not args.clients or min(args.clients) < 1 or args.runs < 1 or args.processes < 1:
        parser.error("--clients, --runs and --processes must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop workers and network
    report = run_benchmark(args, Progress(quiet=False))
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
