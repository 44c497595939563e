"""Console pages in Chromium on the demo city: bytes transferred and time to render.

    python bench/console_pages.py [--db demo.db] [--url http://127.0.0.1:8000 --token T]

Without ``--url`` it loads the demo city (``rectify demo``, about 1,200 items) into
``--db`` (kept, so a second run skips the load) and serves it with ``rectify serve
--no-worker`` on a free port. Each page is opened cold in a fresh browser context
(empty cache, the token already in sessionStorage) and again warm in the same
context. "bytes" is the sum of ``transferSize`` over the document, its modules,
stylesheet and every API call; "render" is the time from navigation start to the
console's ``rectify:ready`` mark (everything on the page drawn, every call
answered). Budget (issue 19): under 300 KB and 1 s per page; printed, not asserted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.server import free_port  # noqa: E402

CHROMIUM = os.environ.get("RECTIFY_TEST_CHROMIUM", "/usr/bin/chromium")
TOKEN = "bench-console-admin-token"
PAGES = [
    "/dashboard",
    "/items",
    "/items?state=rectifying",
    "/items/{item}",
    "/escalations",
    "/extensions",
    "/admin/units",
    "/admin/keys",
    "/admin/webhooks",
    "/admin/calendar",
    "/admin/clock",
]


def _rectify(*args: str, env: dict, **kw) -> subprocess.Popen | subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "app.cli", *args]
    if kw.pop("background", False):
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)


def _get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def serve_demo(db: Path) -> tuple[subprocess.Popen, str]:
    env = dict(
        os.environ,
        RECTIFY_DATABASE_URL=f"sqlite:///{db}",
        RECTIFY_BOOTSTRAP_ADMIN_TOKEN=TOKEN,
        RECTIFY_EVIDENCE_DIR=str(db.parent / "evidence"),
        RECTIFY_TEST_CLOCK="1",
        RECTIFY_LOG_LEVEL="WARNING",
    )
    if not db.exists():
        print(f"loading the demo city into {db} (seconds) ...", flush=True)
        _rectify("db", "upgrade", env=env)
        _rectify("demo", env=env)
    port = free_port()
    proc = _rectify("serve", "--port", str(port), "--no-worker", env=env, background=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            _get(url + "/healthz")
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start: " + proc.stderr.read().decode()[-2000:])


MEASURE = """route => {
  const mark = performance.getEntriesByName('rectify:ready ' + route.split('?')[0])[0];
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  return {
    ms: mark ? mark.startTime : null,
    bytes: entries.reduce((n, e) => n + (e.transferSize || 0), 0),
    requests: entries.length,
    api: entries.filter((e) => e.name.includes('/api/v1/')).length,
  };
}"""


def load(context, url: str, route: str) -> dict:
    page = context.new_page()
    page.goto(f"{url}/console/#{route}")
    page.wait_for_selector(f'body[data-ready="{route.split("?")[0]}"]', state="attached")
    figures = page.evaluate(MEASURE, route)
    errors = page.locator("main .error").count()
    page.close()
    return {**figures, "errors": errors}


BASELINE = """async token => {
  const times = [];
  for (let i = 0; i < 7; i += 1) {
    const t0 = performance.now();
    await (await fetch('/api/v1/me', { headers: { Authorization: 'Bearer ' + token } })).json();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[3];
}"""


def baseline(browser, url: str, token: str) -> tuple[float, float]:
    """Same-run baselines: opening a bare static file, and one small API round trip."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/console/favicon.svg")
    nav = page.evaluate("performance.getEntriesByType('navigation')[0].duration")
    page.goto(f"{url}/console/config.json")
    rtt = page.evaluate(BASELINE, token)
    context.close()
    return nav, rtt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--db", default=str(Path(tempfile.gettempdir()) / "rectify-console-bench" / "demo.db")
    )
    ap.add_argument("--url", help="an already running service (then --token)")
    ap.add_argument("--token", default=TOKEN)
    args = ap.parse_args()
    proc = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        db = Path(args.db)
        db.parent.mkdir(parents=True, exist_ok=True)
        proc, url = serve_demo(db)
    try:
        item = _get(f"{url}/api/v1/items?state=rectifying&limit=1", args.token)["data"][0]["id"]
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            print(
                f"{'page':28} {'cold KB':>8} {'cold ms':>8} {'warm KB':>8} {'warm ms':>8} "
                f"{'API calls':>9}  budget (300 KB, 1000 ms)"
            )
            worst_kb = worst_ms = 0.0
            for template in PAGES:
                route = template.format(item=item)
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                context.add_init_script(f"sessionStorage.setItem('rectify.token', {args.token!r})")
                cold = load(context, url, route)
                warm = load(context, url, route)
                context.close()
                kb = cold["bytes"] / 1024
                ok = kb < 300 and cold["ms"] is not None and cold["ms"] < 1000
                worst_kb, worst_ms = max(worst_kb, kb), max(worst_ms, cold["ms"] or 0)
                print(
                    f"{route:28} {kb:8.1f} {cold['ms']:8.0f} {warm['bytes'] / 1024:8.1f} "
                    f"{warm['ms']:8.0f} {cold['api']:9d}  {'ok' if ok else 'OVER'}"
                    f"{'  (page shows an error)' if cold['errors'] else ''}",
                    flush=True,
                )
            nav, rtt = baseline(browser, url, args.token)
            browser.close()
        print(f"worst page: {worst_kb:.1f} KB, {worst_ms:.0f} ms (cold)")
        print(
            f"baseline, same run: a bare static file opens in {nav:.0f} ms; "
            f"one GET /api/v1/me round trip takes {rtt:.0f} ms (median of 7); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
