"""Transition throughput: the engine against a bare endpoint doing the same writes.

Two uvicorn servers (one process each) share one database: (a) the engine
(``create_app``, no worker) and (b) a bare FastAPI app whose one endpoint does
the transition's writes by hand with SQLAlchemy Core -- lock and read the item
row, update it, insert one hash-chained history row -- on the same schema and
the same engine settings (SQLite: WAL, ``BEGIN IMMEDIATE``; PostgreSQL:
``SELECT ... FOR UPDATE``). Both get the same load: ``--threads`` clients, each
alternating ``submit`` / ``reject`` on its own rectifying item (with evidence).
Rounds alternate bare / engine; the median of each is printed with the ratio.
Targets (issue 17): engine >= 100 % of bare on SQLite, >= 90 % on PostgreSQL
(one process each); on PostgreSQL the run is repeated with two server
processes of each kind (clients spread over them round-robin), and the
engine's 2-process / 1-process scaling (target >= 1.6x) is printed beside the
bare stack's own. The load generator runs on the same machine: on 2 cores it
competes with the servers and the database, so compare same-run figures only.

A third load drives the engine with people's OpenID Connect access tokens
(issued by the test provider, tests/oidc/, whose keys the engine has cached
after the first request) instead of API keys. Target (issue 15): within 10 %
of the API-key run, same run, same server. Skipped when node or the
provider's npm package is missing (``npm install`` in tests/oidc) or with
``--no-oidc``.

    python bench/transition_throughput.py [--requests 2000] [--threads 16] [--rounds 3]
    RECTIFY_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1/postgres \\
        python bench/transition_throughput.py          # SQLite, then PostgreSQL

Unit and supervisor take turns without uploads, so the engine runs a copy of
the workflows in which ``reject`` does not ask for fresh evidence (the
evidence check of ``submit`` still runs: one indexed query either way).

Each round also prints the server's CPU time per request (Linux), which is
steadier than requests/s on a shared machine, the load generator's own, and on
PostgreSQL the database server's (every ``postgres`` process on the machine: run
it on an otherwise idle server; a backend that exits takes its time with it, so
connections opened and closed under load would hide theirs). ``--profile DIR`` samples each
server with py-spy (``pip install py-spy``) into collapsed-stack files.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from bench.server import free_port  # noqa: E402

ADMIN = "bench-admin-token-0123456789abcdef"
API = "/api/v1"


def bare_app(url: str):
    """One endpoint, the same writes as an engine transition, nothing else."""
    import hashlib
    from datetime import UTC, datetime

    from fastapi import Body, FastAPI, HTTPException
    from sqlalchemy import insert, select, update

    from app.db import WRITE, make_engine
    from app.items.models import HistoryEntry, Item

    engine = make_engine(url)
    item_t, hist_t = Item.__table__, HistoryEntry.__table__
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/bare/items/{item_id}/transitions")
    def transition(item_id: int, body: dict = Body(...)) -> dict:
        action, comment = body["action"], body.get("comment")
        pending_before = action == "reject"
        with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            row = (
                conn.execute(select(item_t).where(item_t.c.id == item_id).with_for_update())
                .mappings()
                .first()
            )
            if row is None:
                raise HTTPException(404)
            if row["state"] != "rectifying" or row["review_pending"] != pending_before:
                raise HTTPException(409)
            moment = datetime.now(UTC)
            conn.execute(
                update(item_t)
                .where(item_t.c.id == item_id)
                .values(
                    review_pending=not pending_before,
                    version=row["version"] + 1,
                    updated_at=moment,
                )
            )
            last = conn.execute(
                select(hist_t.c.seq, hist_t.c.hash)
                .where(hist_t.c.item_id == item_id)
                .order_by(hist_t.c.seq.desc())
                .limit(1)
            ).first()
            seq, prev = (last[0] + 1, last[1]) if last else (1, "0" * 64)
            entry = {
                "item_id": item_id,
                "seq": seq,
                "at": moment,
                "actor": "bare",
                "action": action,
                "from_state": "rectifying",
                "to_state": "rectifying",
                "comment": comment,
                "data": {},
                "prev_hash": prev,
            }
            canonical = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)
            entry["hash"] = hashlib.sha256(canonical.encode()).hexdigest()
            conn.execute(insert(hist_t).values(**entry))
        return {
            **row,
            "review_pending": not pending_before,
            "version": row["version"] + 1,
            "updated_at": moment,
        }

    return app


def _serve(kind: str, url: str, port: int, evidence_dir: str, env: dict[str, str]) -> None:
    os.environ.update(
        RECTIFY_DATABASE_URL=url,
        RECTIFY_EVIDENCE_DIR=evidence_dir,
        RECTIFY_BOOTSTRAP_ADMIN_TOKEN=ADMIN,
        RECTIFY_AUTO_MIGRATE="0",
        **env,
    )
    import uvicorn

    protocol: dict = {}
    if kind == "engine":
        from app.db import make_engine
        from app.main import create_app
        from app.serving import GuardedHttp

        app = create_app(make_engine(url), migrate=False, worker=False)
        protocol["http"] = GuardedHttp  # as ``rectify serve`` runs it; the bare: uvicorn's own
    else:
        app = bare_app(url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **protocol)


def _wait_ready(base: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{base} did not start")


def _seed(base: str, n_items: int) -> tuple[list[int], dict[str, str]]:
    """Rectifying items led by the court with the district as co-unit (the unit key,
    the court's, is checked against lead or co-unit scope), one evidence file each,
    and the keys to drive them."""
    import httpx

    with httpx.Client(base_url=base + API, timeout=30) as c:
        c.headers["Authorization"] = f"Bearer {ADMIN}"

        def ok(r):
            if r.status_code >= 300:
                raise SystemExit(f"seeding failed: {r.request.url} {r.status_code} {r.text}")
            return r.json()

        for code, name in (("court", "市中级人民法院"), ("district", "某区人民政府")):
            if c.get(f"/units/{code}").status_code == 404:
                ok(c.post("/units", json={"code": code, "name": name}))
        sup = ok(c.post("/keys", json={"name": "bench-sup", "role": "supervisor"}))["token"]
        unit = ok(c.post("/keys", json={"name": "b-unit", "role": "unit", "unit_code": "court"}))
        tokens = {"supervisor": sup, "unit": unit["token"]}
        as_sup = {"Authorization": f"Bearer {sup}"}
        as_unit = {"Authorization": f"Bearer {unit['token']}"}
        ids = []
        for i in range(n_items):
            body = {"title": f"压测问题{i}：整改台账不规范", "source": "audit"}
            iid = ok(c.post("/items", json=body, headers=as_sup))["id"]
            ok(
                c.post(
                    f"/items/{iid}/transitions",
                    json={"action": "assign", "unit_code": "court", "co_unit_codes": ["district"]},
                    headers=as_sup,
                )
            )
            ok(c.post(f"/items/{iid}/transitions", json={"action": "accept"}, headers=as_unit))
            files = {"file": ("整改报告.pdf", b"%PDF-1.4 report", "application/pdf")}
            ok(c.post(f"/items/{iid}/evidence", files=files, headers=as_unit))
            ids.append(iid)
        return ids, tokens


class Load:
    """``threads`` clients, each alternating submit / reject on its own item; with
    several server processes, the clients are spread over them round-robin.

    The clients are coroutines on one event loop, each with its own keep-alive
    connection, sending requests made as bytes beforehand and reading the response by
    its Content-Length: the load generator shares the two cores with the servers and
    the database, so it should spend as little of them as it can (an httpx client per
    thread cost ~0.55 ms of CPU a request, a sixth of the machine at 580 req/s)."""

    def __init__(self, bases: list[str], items: list[int], path: str, tokens: dict | None) -> None:
        self.bases, self.items, self.path, self.tokens = bases, items, path, tokens
        self.pending = dict.fromkeys(items, False)
        self.client_cpu_ms = 0.0

    def _request(self, item_id: int, action: str, host: str) -> bytes:
        body = json.dumps({"action": action, "comment": "压测：整改说明"}, ensure_ascii=False)
        role = "supervisor" if action == "reject" else "unit"
        auth = f"Authorization: Bearer {self.tokens[role]}\r\n" if self.tokens else ""
        head = (
            f"POST {self.path.format(id=item_id)} HTTP/1.1\r\nHost: {host}\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body.encode())}\r\n\r\n"
        )
        return head.encode() + body.encode()

    def run(self, requests: int) -> float:
        per_client = [requests // len(self.items)] * len(self.items)
        for i in range(requests % len(self.items)):
            per_client[i] += 1
        cpu = time.process_time()
        elapsed = asyncio.run(self._run(per_client))
        self.client_cpu_ms = (time.process_time() - cpu) * 1000 / requests
        return requests / elapsed

    async def _run(self, per_client: list[int]) -> float:
        connections = []
        for i, item_id in enumerate(self.items):
            host, port = self.bases[i % len(self.bases)].removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            sends = {
                action: self._request(item_id, action, f"{host}:{port}")
                for action in ("submit", "reject")
            }
            connections.append((item_id, reader, writer, sends))
        started = time.perf_counter()
        try:
            await asyncio.gather(
                *(
                    self._client(item_id, reader, writer, sends, n)
                    for (item_id, reader, writer, sends), n in zip(
                        connections, per_client, strict=True
                    )
                )
            )
            return time.perf_counter() - started
        finally:
            for _, _, writer, _ in connections:
                writer.close()

    async def _client(self, item_id: int, reader, writer, sends: dict, n: int) -> None:
        for _ in range(n):
            action = "reject" if self.pending[item_id] else "submit"
            writer.write(sends[action])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            status = int(head[9:12])
            if status != 200:
                raise SystemExit(f"{action} {item_id}: {status} {body[:200]!r}")
            self.pending[item_id] = not self.pending[item_id]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _database_cpu_seconds() -> float:
    """CPU time of every PostgreSQL server process on this machine (Linux; 0 elsewhere):
    the database's share of the two cores, beside the servers' and the load's."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if stat.read_text().split(" ", 2)[1] == "(postgres)":
                total += _cpu_seconds(int(stat.parent.name))
    return total


@contextlib.contextmanager
def _profiled(directory: str | None, name: str, pid: int, gil: bool = False):
    """Sample ``pid`` with py-spy (collapsed stacks, all threads; with ``gil``, only
    the thread holding the GIL: where the server's Python CPU goes) while inside."""
    if not directory:
        yield
        return
    out = Path(directory) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen(
        ["py-spy", "record", "-p", str(pid), "--format", "raw", "-o", str(out)]
        + ["-r", "500" if gil else "100"]
        + (["--gil"] if gil else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # let py-spy attach before the load starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
        print(f"  profile: {out}", flush=True)


def _pg_database(pg_url: str):
    """A fresh PostgreSQL database for the run: (url, drop())."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    name = f"rectify_bench_{uuid.uuid4().hex[:10]}"
    params = dict(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    )
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(**params) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


def _oidc_provider(args):
    """The test OpenID Connect provider with a supervisor and a court unit person,
    or None (with the reason printed) when it cannot run."""
    if args.no_oidc:
        return None
    from tests.oidc.provider import Client, OidcProvider, node_ready

    reason = node_ready()
    if reason:
        print(f"  OIDC run skipped: {reason}", flush=True)
        return None
    people = [
        Client("bench.sup", {"rectify_role": "supervisor", "name": "压测督办"}, ttl=3600),
        Client(
            "bench.unit",
            {"rectify_role": "unit", "rectify_unit": "court", "name": "压测单位"},
            ttl=3600,
        ),
    ]
    return OidcProvider(people).start()


def _resubmittable_workflows(workdir: Path) -> Path:
    """The repo's workflows, ``reject`` without ``require_new_evidence``."""
    import yaml

    target = workdir / "workflows"
    target.mkdir()
    for path in (ROOT / "app" / "workflows").glob("*.yaml"):
        data = yaml.safe_load(path.read_text("utf-8"))
        for action in data["actions"]:
            if action["name"] == "reject":
                action["effects"] = [e for e in action["effects"] if e != "require_new_evidence"]
        (target / path.name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return target


def bench(label: str, url: str, args, workdir: Path, processes: int = 1) -> dict[str, float]:
    """Engine and bare, ``processes`` server processes each; the median req/s of each."""
    from app.migrate import upgrade

    upgrade(url)
    # The OIDC load runs beside the one-process measurement only.
    provider = _oidc_provider(args) if processes == 1 else None
    env = provider.env() if provider else {}
    ctx = multiprocessing.get_context("spawn")
    kinds = ("engine", "bare")
    ports = {kind: [free_port() for _ in range(processes)] for kind in kinds}
    procs = {
        kind: [
            ctx.Process(target=_serve, args=(kind, url, port, str(workdir / "evidence"), env))
            for port in ports[kind]
        ]
        for kind in kinds
    }
    for p in (p for kind in kinds for p in procs[kind]):
        p.start()
    tag = f"{label}, {processes} process{'es' if processes > 1 else ''}"
    try:
        bases = {kind: [f"http://127.0.0.1:{port}" for port in ports[kind]] for kind in kinds}
        for base in (b for kind in kinds for b in bases[kind]):
            _wait_ready(base)
        engine_items, tokens = _seed(bases["engine"][0], args.threads)
        bare_items, _ = _seed(bases["engine"][0], args.threads)
        loads = {
            "engine": Load(bases["engine"], engine_items, API + "/items/{id}/transitions", tokens),
            "bare": Load(bases["bare"], bare_items, "/bare/items/{id}/transitions", None),
        }
        if provider:
            oidc_items, _ = _seed(bases["engine"][0], args.threads)
            people = {
                "supervisor": provider.token("bench.sup"),
                "unit": provider.token("bench.unit"),
            }
            loads["oidc"] = Load(
                bases["engine"], oidc_items, API + "/items/{id}/transitions", people
            )
        for load in loads.values():
            load.run(args.warmup)
        results: dict[str, list[float]] = {kind: [] for kind in loads}
        for r in range(args.rounds):
            for kind in loads:
                pids = [p.pid for p in procs["bare" if kind == "bare" else "engine"]]
                cpu, db_cpu = sum(map(_cpu_seconds, pids)), _database_cpu_seconds()
                with contextlib.ExitStack() as stack:
                    for i, pid in enumerate(pids):
                        name = f"{label}-{processes}p-{kind}-{r + 1}" + (f"-{i}" if i else "")
                        stack.enter_context(_profiled(args.profile, name, pid, args.profile_gil))
                    rps = loads[kind].run(args.requests)
                cpu_ms = (sum(map(_cpu_seconds, pids)) - cpu) * 1000 / args.requests
                db_ms = (_database_cpu_seconds() - db_cpu) * 1000 / args.requests
                results[kind].append(rps)
                print(
                    f"  {tag} round {r + 1}: {kind:6} {rps:8.1f} req/s, "
                    f"server CPU {cpu_ms:.2f} ms/request, load generator "
                    f"{loads[kind].client_cpu_ms:.2f} ms"
                    + (f", PostgreSQL {db_ms:.2f} ms" if label == "postgresql" else ""),
                    flush=True,
                )
    finally:
        for p in (p for kind in kinds for p in procs[kind]):
            p.terminate()
            p.join(10)
        if provider:
            provider.stop()
    medians = {k: statistics.median(results[k]) for k in kinds}
    target = TARGETS.get(label, 0.9)
    print(
        f"{tag}: bare {medians['bare']:.1f} req/s, engine {medians['engine']:.1f} req/s, "
        f"ratio {medians['engine'] / medians['bare']:.0%} (target >= {target:.0%}) "
        f"[{args.requests} requests x {args.rounds} rounds, {args.threads} threads, median]",
        flush=True,
    )
    if results.get("oidc"):
        people = statistics.median(results["oidc"])
        print(
            f"{tag}: API key {medians['engine']:.1f} req/s, OIDC bearer {people:.1f} req/s, "
            f"ratio {people / medians['engine']:.0%} (target >= 90%) "
            "[same server, same run, median]",
            flush=True,
        )
    return medians


# Engine / bare, one process (issue 17).
TARGETS = {"sqlite": 1.0, "postgresql": 0.9}
SCALE_TARGET = 1.6  # engine with 2 API processes / engine with 1, PostgreSQL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--pg-url", default=os.environ.get("RECTIFY_BENCH_PG_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-oidc", action="store_true", help="skip the OIDC-bearer load")
    parser.add_argument("--profile", metavar="DIR", help="py-spy each server into DIR")
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (Python CPU)",
    )
    parser.add_argument(
        "--pg-processes",
        type=lambda v: [int(n) for n in v.split(",")],
        default=[1, 2],
        help="API process counts to measure on PostgreSQL (default 1,2)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["RECTIFY_EVIDENCE_DIR"] = str(workdir / "evidence")
        os.environ["RECTIFY_WORKFLOWS_DIR"] = str(_resubmittable_workflows(workdir))
        if not args.no_sqlite:
            bench("sqlite", f"sqlite:///{workdir / 'bench.db'}", args, workdir)
        if args.pg_url:
            url, drop = _pg_database(args.pg_url)
            try:
                runs = {n: bench("postgresql", url, args, workdir, n) for n in args.pg_processes}
            finally:
                drop()
            if 1 in runs:
                for n in sorted(set(runs) - {1}):
                    engine, bare = (runs[n][k] / runs[1][k] for k in ("engine", "bare"))
                    print(
                        f"postgresql scaling, {n} processes / 1: engine {engine:.2f}x "
                        f"(target >= {SCALE_TARGET}x), bare {bare:.2f}x (same run)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
