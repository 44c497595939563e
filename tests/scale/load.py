"""A bounded client load over several API processes, recording every answer.

Each item is driven by one thread from its actual state (read back before
every step) towards a seeded target: left assigned, withdrawn, left
rectifying, with evidence, under review, or closed. Some steps are sent as a
group of concurrent, conflicting requests to different API processes (with
or without one shared ``If-Match``); at most one of a group may win. A clock
thread moves the test clock forward by days as the load progresses and runs
``POST /admin/scheduler/tick`` on two API processes at once, while the
workers' own scans run too.

With ``tolerate_crashes`` a request that could not connect is sent to the
next API process, and a request whose connection died is recorded as
uncertain (``status=None``): it may or may not have committed, so the driver
reads the item back to learn which before going on.
"""

import itertools
import random
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

BASE = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
START = datetime.fromisoformat("2026-03-02T02:00:00+00:00")  # a Monday, 10:00 local
CLOCK_STEPS_DAYS = (3, 4, 5, 6, 7)
FINAL_STEP_DAYS = 10
TARGETS = {"assigned": 1, "withdrawn": 1, "rectifying": 1, "evidence": 1, "review": 1, "closed": 5}
CONFLICT_P = 0.35
MAX_STEPS = 25
REQUEST_TIMEOUT_S = 30.0
SEND_DEADLINE_S = 60.0


@dataclass(frozen=True)
class Answer:
    """One request the client made. ``status`` None: the connection died mid-request."""

    op: str  # create | transition | evidence | tick
    item: int | None
    action: str
    status: int | None
    version: int | None = None
    evidence_id: int | None = None
    group: int | None = None
    if_match: str | None = None
    api: int = -1


class Client:
    """Round-robin over the API processes; one httpx client per thread and process."""

    def __init__(self, urls: list[str], tokens: dict[str, str], tolerate_crashes: bool):
        self.urls = urls
        self.tokens = tokens
        self.tolerate_crashes = tolerate_crashes
        self._rr = itertools.count()
        self._local = threading.local()
        self._opened: list[httpx.Client] = []
        self._opened_lock = threading.Lock()

    def pick(self) -> int:
        return next(self._rr) % len(self.urls)

    def _http(self, api: int) -> httpx.Client:
        clients = self._local.__dict__.setdefault("clients", {})
        if api not in clients:
            clients[api] = httpx.Client(base_url=self.urls[api], timeout=REQUEST_TIMEOUT_S)
            with self._opened_lock:
                self._opened.append(clients[api])
        return clients[api]

    def close(self) -> None:
        """Close every thread's connections (the load's threads have ended)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for http in opened:
            http.close()

    def send(self, method: str, path: str, role: str, api: int | None = None, headers=None, **kw):
        """(response or None when the outcome is unknown, the API process that answered)."""
        api = self.pick() if api is None else api
        h = {"Authorization": f"Bearer {self.tokens[role]}", **(headers or {})}
        deadline = time.monotonic() + SEND_DEADLINE_S
        while True:
            try:
                return self._http(api).request(method, BASE + path, headers=h, **kw), api
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if not self.tolerate_crashes or time.monotonic() > deadline:
                    raise
                api = (api + 1) % len(self.urls)
                time.sleep(0.05)
            except httpx.TransportError:
                if not self.tolerate_crashes:
                    raise
                return None, api

    def read(self, path: str, role: str = "admin") -> dict:
        """A GET that must answer 200; safe to repeat, so repeated on any connection error."""
        for _ in range(20):
            r, _api = self.send("GET", path, role)
            if r is not None:
                assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
                return r.json()
            time.sleep(0.1)
        raise AssertionError(f"GET {path}: no answer")

    def must(self, method: str, path: str, expect: int, role: str = "admin", **kw) -> dict:
        """A request safe to repeat (setup, the clock), repeated until it gets an answer."""
        for _ in range(20):
            r, _api = self.send(method, path, role, **kw)
            if r is not None:
                assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
                return r.json() if r.content else {}
            time.sleep(0.1)
        raise AssertionError(f"{method} {path}: no answer")


class Load:
    def __init__(self, client: Client, *, items: int, threads: int, seed: int, unit: str):
        self.client = client
        self.items = items
        self.threads = threads
        self.seed = seed
        self.unit = unit
        self.answers: list[Answer] = []
        self.problems: list[str] = []
        self.item_ids: dict[int, int] = {}
        self.now = START
        self._lock = threading.Lock()
        self._groups = itertools.count(1)
        self._done = 0
        self._uncertain_items: set[int] = set()
        self._conflicts = ThreadPoolExecutor(threads * 3 + 4, thread_name_prefix="conflict")
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()

    # running ---------------------------------------------------------------------
    @property
    def progress(self) -> float:
        """The share of items whose driver has finished."""
        return self._done / self.items

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.problems.append(f"the load did not finish within {timeout} s")
        self._conflicts.shutdown(wait=False, cancel_futures=True)

    def run(self, timeout: float) -> None:
        self.start()
        self.join(timeout)

    def _run(self) -> None:
        try:
            clock = threading.Thread(target=self._clock_loop, name="clock", daemon=True)
            clock.start()
            with ThreadPoolExecutor(self.threads, thread_name_prefix="item") as pool:
                futures = [pool.submit(self._guarded, i) for i in range(self.items)]
                wait(futures)
            clock.join()
            self.advance(FINAL_STEP_DAYS)
        except Exception:
            self.problems.append(traceback.format_exc())
        finally:
            self.finished.set()

    def _guarded(self, i: int) -> None:
        try:
            self._drive(i)
        except Exception:
            self.problems.append(f"item #{i}: {traceback.format_exc()}")
        finally:
            with self._lock:
                self._done += 1

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)
            if answer.status is None and answer.item is not None:
                self._uncertain_items.add(answer.item)

    # the clock -----------------------------------------------------------------------
    def _clock_loop(self) -> None:
        for k, days in enumerate(CLOCK_STEPS_DAYS, start=1):
            threshold = self.items * k // (len(CLOCK_STEPS_DAYS) + 1)
            while self._done < threshold:
                time.sleep(0.05)
            self.advance(days)

    def today(self) -> date:
        with self._lock:
            return self.now.astimezone(TZ).date()

    def advance(self, days: int) -> None:
        """Move the shared test clock, then run two scans at once on random API processes."""
        with self._lock:
            self.now += timedelta(days=days)
            moment = self.now
        self.client.must("PUT", "/admin/clock", 200, json={"now": moment.isoformat()})
        apis = random.Random(f"{self.seed}-{moment}").sample(range(len(self.client.urls)), 2)
        ticks = [self._conflicts.submit(self._tick, api) for api in apis]
        for f in ticks:
            f.result(timeout=SEND_DEADLINE_S * 2)

    def _tick(self, api: int) -> None:
        r, api = self.client.send("POST", "/admin/scheduler/tick", "admin", api=api)
        self._record(Answer("tick", None, "tick", r and r.status_code, api=api))
        if r is not None and r.status_code != 200:
            self.problems.append(f"tick on api{api}: {r.status_code} {r.text}")

    # one item ------------------------------------------------------------------------
    def _drive(self, i: int) -> None:
        rng = random.Random(f"{self.seed}-{i}")
        target = rng.choices(list(TARGETS), weights=list(TARGETS.values()))[0]
        iid = self._create(i, rng)
        rejected = False
        for _ in range(MAX_STEPS):
            item = self.client.read(f"/items/{iid}")
            state, pending = item["state"], item["review_pending"]
            if target == "withdrawn" and state not in ("found", "assigned", "closed"):
                target = "closed"  # an accept won the race against the withdrawal
            conflict = rng.random() < CONFLICT_P
            if_match = f'"{item["version"]}"' if rng.random() < 0.5 else None
            if state == "found":
                due = self.today() + timedelta(days=rng.randint(8, 14))
                fields = {"unit_code": self.unit, "due_date": due.isoformat()}
                self._step(iid, "assign", "sup", fields, ok=(200, 422))
            elif state == "assigned":
                if target == "assigned":
                    return
                if target == "withdrawn":
                    withdraw = ("withdraw", "sup", {"comment": "重复立项，撤销"})
                    if conflict:
                        self._group(iid, [withdraw, ("accept", "unit", {})], if_match)
                    else:
                        self._step(iid, *withdraw)
                elif conflict:
                    self._group(iid, [("accept", "unit", {})] * 3, if_match)
                else:
                    self._step(iid, "accept", "unit", {})
            elif state == "rectifying" and not pending:
                if target == "rectifying":
                    return
                actions = self.client.read(f"/items/{iid}/actions", "unit")["actions"]
                if not any(a["name"] == "submit" and a["enabled"] for a in actions):
                    self._evidence(iid, rng)  # none yet, or none since a rejection
                elif target == "evidence":
                    return
                elif conflict:
                    submit = ("submit", "unit", {"comment": "已整改到位"})
                    self._group(iid, [submit, submit], f'"{item["version"]}"')
                else:
                    self._step(iid, "submit", "unit", {"comment": "已整改到位"})
            elif state == "rectifying":
                if target == "review":
                    return
                reject = ("reject", "sup", {"comment": "材料不全，退回重整"})
                if conflict:
                    other = reject if not rejected and rng.random() < 0.5 else ("verify", "sup", {})
                    self._group(iid, [("verify", "sup", {}), other], if_match)
                    rejected = rejected or other[0] == "reject"
                elif not rejected and rng.random() < 0.25:
                    rejected = True
                    self._step(iid, *reject)
                else:
                    self._step(iid, "verify", "sup", {})
            elif state == "verified":
                if conflict:
                    self._group(iid, [("close", "sup", {})] * 2, if_match)
                else:
                    self._step(iid, "close", "sup", {})
            else:
                return
        self.problems.append(f"item {iid} did not reach {target} in {MAX_STEPS} steps")

    def _create(self, i: int, rng: random.Random) -> int:
        body = {
            "title": f"问题{i}：执行案款发放不及时",
            "source": rng.choice(["audit", "hotline", "inspection", "petition"]),
            "workflow": "rectification",  # the driver walks this workflow's states
        }
        key = {"Idempotency-Key": f"scale-{self.seed}-{i}"}
        for _ in range(20):
            r, api = self.client.send("POST", "/items", "sup", headers=key, json=body)
            if r is not None and r.status_code == 201:
                iid = r.json()["id"]
                self._record(Answer("create", iid, "create", 201, version=1, api=api))
                self.item_ids[i] = iid
                return iid
            if r is not None and r.status_code != 409:  # 409: the first try is still running
                raise AssertionError(f"POST /items: {r.status_code} {r.text}")
            time.sleep(0.2)
        raise AssertionError(f"item #{i} could not be created")

    def _send_action(
        self, iid, action, role, fields, if_match=None, api=None, group=None
    ) -> int | None:
        headers = {"If-Match": if_match} if if_match else None
        r, api = self.client.send(
            "POST",
            f"/items/{iid}/transitions",
            role,
            api=api,
            headers=headers,
            json={"action": action, **fields},
        )
        status = r.status_code if r is not None else None
        version = r.json()["version"] if status == 200 else None
        self._record(Answer("transition", iid, action, status, version, None, group, if_match, api))
        if status is None:
            time.sleep(0.3)  # let a commit in flight land before the item is read back
        return status

    def _step(self, iid: int, action: str, role: str, fields: dict, ok=(200,)) -> None:
        status = self._send_action(iid, action, role, fields)
        if status is None or status in ok:
            return
        if status in (409, 412) and iid in self._uncertain_items:
            return  # an earlier request whose connection died did commit after all
        self.problems.append(f"item {iid} {action}: unexpected {status}")
        raise RuntimeError(f"item {iid} {action}: {status}")

    def _group(self, iid: int, members: list[tuple], if_match: str | None) -> None:
        """Send ``members`` at once to different API processes; at most one may win."""
        gid = next(self._groups)
        barrier = threading.Barrier(len(members))
        first = self.client.pick()

        def one(k: int, member: tuple) -> int | None:
            barrier.wait(timeout=20)
            action, role, fields = member
            api = (first + k) % len(self.client.urls)
            return self._send_action(iid, action, role, fields, if_match, api, gid)

        futures = [self._conflicts.submit(one, k, m) for k, m in enumerate(members)]
        statuses = [f.result(timeout=SEND_DEADLINE_S * 2) for f in futures]
        allowed = {200, 409, 412, None} if if_match else {200, 409, None}
        if statuses.count(200) > 1 or not set(statuses) <= allowed:
            self.problems.append(
                f"item {iid} group {gid} {members} If-Match {if_match}: {statuses}"
            )

    def _evidence(self, iid: int, rng: random.Random) -> None:
        content = f"整改报告 {iid} {rng.random()}".encode()
        files = {"file": ("整改报告.pdf", content, "application/pdf")}
        r, api = self.client.send("POST", f"/items/{iid}/evidence", "unit", files=files)
        status = r.status_code if r is not None else None
        eid = r.json()["id"] if status == 201 else None
        self._record(Answer("evidence", iid, "evidence", status, evidence_id=eid, api=api))
        if status not in (201, None):
            self.problems.append(f"item {iid} evidence: unexpected {status} {r.text}")
            raise RuntimeError(f"item {iid} evidence: {status}")
