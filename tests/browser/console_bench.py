"""The web console's benchmark in headless Chromium (run by `onsite-bench --console-slips N`):
the first render of a board against the baseline board's, the time from a change on the
server to a board showing it against the change's own call, and the size of what the browser
downloads, compressed as served.

Usage: console_bench.py --baseline URL TOKEN --board URL TOKEN --out console.json
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid

from playwright.sync_api import sync_playwright

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import walk_lifecycle  # noqa: E402  (the generated gRPC stubs)

RENDERS = 3
CHANGES = 15
ASSETS = ["/", "/app.js", "/app.css", "/basemap.json"]


def board_size(stubs, url, token):
    """Open slips and engineers, as the API lists them."""
    import grpc
    channel = grpc.insecure_channel(url.removeprefix("http://"))
    s, e = stubs["slips_pb2"], stubs["engineers_pb2"]
    slips = stubs["slips_pb2_grpc"].SlipServiceStub(channel)
    engineers = stubs["engineers_pb2_grpc"].EngineerServiceStub(channel)
    auth = [("authorization", "Bearer " + token)]

    def pages(call, request, field):
        items, token_ = [], ""
        while True:
            request.page_token = token_
            page = call(request, metadata=auth)
            items.extend(getattr(page, field))
            token_ = page.next_page_token
            if not token_:
                return items

    open_states = [s.SLIP_STATE_DRAFT, s.SLIP_STATE_VERIFIED, s.SLIP_STATE_DISPATCHED, s.SLIP_STATE_DECLINED,
                   s.SLIP_STATE_CONFIRMED, s.SLIP_STATE_SCHEDULED, s.SLIP_STATE_EN_ROUTE, s.SLIP_STATE_ON_SITE]
    open_slips = [x for state in open_states
                  for x in pages(slips.ListSlips, s.ListSlipsRequest(state=state, page_size=200), "slips")]
    all_engineers = pages(engineers.ListEngineers, e.ListEngineersRequest(page_size=200), "engineers")
    return channel, open_slips, all_engineers


def first_render(browser, url, token, slips, engineers):
    """Milliseconds from pressing Enter on the sign-in form to the whole board and map drawn."""
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.goto(url + "/?lang=en")
    page.get_by_label("API token", exact=True).fill(token)
    page.evaluate("() => { window.benchStart = performance.now(); }")
    page.get_by_label("API token", exact=True).press("Enter")
    page.wait_for_function(
        """([slips, engineers]) => {
            // The table draws the rows in view; it counts all of them (the header is a row too).
            const table = document.querySelector("table.slips");
            const rows = table && table.querySelectorAll("tbody tr[data-slip]").length > 0
                ? Number(table.getAttribute("aria-rowcount")) - 1 : -1;
            const map = document.querySelector(".map-panel");
            const done = rows === slips && map && Number(map.dataset.engineers) === engineers;
            if (done && !window.benchEnd) window.benchEnd = performance.now();
            return done;
        }""",
        arg=[slips, engineers], polling="raf", timeout=120_000)
    elapsed = page.evaluate("() => window.benchEnd - window.benchStart")
    # The console marks when the board's data was in: the rest is drawing it.
    loaded = page.evaluate(
        "() => performance.getEntriesByName('onsite:board-loaded')[0].startTime - window.benchStart")
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : 0")
    return page, context, elapsed, loaded, heap


def change_to_board(stubs, channel, token, page, slips, engineers):
    """Dispatches verified slips one at a time; for each, milliseconds until the board shows it."""
    s = stubs["slips_pb2"]
    api = stubs["slips_pb2_grpc"].SlipServiceStub(channel)
    auth = [("authorization", "Bearer " + token)]
    engineer = next(e for e in engineers if e.status == stubs["engineers_pb2"].ENGINEER_STATUS_AVAILABLE)
    # Slips whose rows are in view: the table draws only those.
    in_view = set(page.evaluate("() => [...document.querySelectorAll('tr[data-slip]')].map(r => r.dataset.slip)"))
    verified = [x for x in slips if x.state == s.SLIP_STATE_VERIFIED and x.id in in_view][:CHANGES]
    shown, calls = [], []
    for slip in verified:
        started = time.time() * 1000
        api.DispatchSlip(s.DispatchSlipRequest(request_id=str(uuid.uuid4()), slip_id=slip.id,
                                               engineer_id=engineer.id), metadata=auth)
        calls.append(time.time() * 1000 - started)
        page.wait_for_function(
            """([id, name]) => {
                const row = document.querySelector(`tr[data-slip="${id}"]`);
                const done = row && row.textContent.includes("Dispatched") && row.textContent.includes(name);
                if (done && !window.seen[id]) window.seen[id] = Date.now();
                return done;
            }""",
            arg=[slip.id, engineer.name], polling="raf", timeout=30_000)
        shown.append(page.evaluate("(id) => window.seen[id]", slip.id) - started)
    return shown, calls


def downloads(url):
    sizes = {}
    for path in ASSETS:
        request = urllib.request.Request(url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:
            sizes[path] = len(response.read())
    return sizes


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", nargs=2, required=True)
    parser.add_argument("--board", nargs=2, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    stubs = walk_lifecycle.generate_stubs()
    results = {"boards": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for name, (url, token) in [("baseline", args.baseline), ("board", args.board)]:
            channel, slips, engineers = board_size(stubs, url, token)
            located = sum(1 for e in engineers if e.HasField("home_base") or e.HasField("last_position"))
            renders, loads, heaps, page, context = [], [], [], None, None
            for _ in range(RENDERS):
                if context:
                    context.close()
                page, context, elapsed, loaded, heap = first_render(browser, url, token, len(slips), located)
                renders.append(elapsed)
                loads.append(loaded)
                heaps.append(heap)
            page.evaluate("() => { window.seen = {}; }")
            shown, calls = change_to_board(stubs, channel, token, page, slips, engineers)
            context.close()
            results["boards"][name] = {
                "engineers": len(engineers),
                "open_slips": len(slips),
                "first_render_ms": renders,
                "first_render_median_ms": statistics.median(renders),
                "data_loaded_ms": loads,
                "data_loaded_median_ms": statistics.median(loads),
                "js_heap_mb": max(heaps) / 1e6,
                "change_to_board_ms": shown,
                "change_to_board_median_ms": statistics.median(shown),
                "change_to_board_p95_ms": percentile(shown, 95),
                "change_call_median_ms": statistics.median(calls),
            }
        browser.close()
    results["gzip_bytes"] = downloads(args.board[0])
    base, board = results["boards"]["baseline"], results["boards"]["board"]
    results["first_render_ratio"] = board["first_render_median_ms"] / base["first_render_median_ms"]
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)

    print(f"\n{'board':<10} {'engineers':>10} {'open slips':>11} {'first render':>13} {'(data in)':>10} {'JS heap':>9} "
          f"{'change to board (p50/p95)':>27} {'the change call':>16}")
    for name, r in results["boards"].items():
        print(f"{name:<10} {r['engineers']:>10,} {r['open_slips']:>11,} {r['first_render_median_ms']:>10.0f} ms "
              f"{r['data_loaded_median_ms']:>7.0f} ms "
              f"{r['js_heap_mb']:>6.0f} MB {r['change_to_board_median_ms']:>13.0f} / {r['change_to_board_p95_ms']:.0f} ms "
              f"{r['change_call_median_ms']:>13.0f} ms")
    print(f"first render: {results['first_render_ratio']:.1f}x the baseline board's (median of {RENDERS} each)")
    total = sum(results["gzip_bytes"].values())
    print("downloads (gzip): " + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in results["gzip_bytes"].items())
          + f"; total {total / 1024:.1f} KB")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
