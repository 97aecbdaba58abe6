"""Take the screenshots of docs/debugging.md and docs/viewer.md: the viewer on a fresh `spyglass demo` store, in
Debian's chromium via Playwright (see ../shared/TESTING.md).

    python docs/img/make_screenshots.py          # writes docs/img/debug-*.png

The demo runs on its local stand-in model (no OPENAI_API_KEY). For the replay screenshot the
viewer is given a throwaway key and a local stand-in server as OPENAI_BASE_URL: it shows
the mechanism, not a real model's answer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("SPYGLASS_CHROMIUM", "/usr/bin/chromium")
BATTERY_Q = "What battery does the L2 use and how long does a charge last?"
BRIGHTNESS_Q = "How many brightness levels does the L2 have?"
sys.path.insert(0, str(REPO))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(path: Path) -> dict[str, str]:
    import tracer
    from viewer.demo import build_demo_store

    os.environ.pop("OPENAI_API_KEY", None)
    build_demo_store(str(path), echo=False)
    store = tracer.Store(path)
    ids = {}
    for t in store.list_traces(limit=100):
        root = next(s for s in store.get_trace(t["trace_id"])["spans"] if s["parent_span_id"] is None)  # type: ignore[index]
        ids[json.loads(root["attributes"]["input.value"])["text"]] = str(t["trace_id"])
    return ids


def standin_server() -> str:
    """The demo's scripted stand-in, over HTTP, for the replay screenshot."""
    from viewer.demo import _standin

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            data = json.dumps(_standin._completion(body, _standin.answer(body.get("messages") or []))).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def shrink(path: Path) -> None:
    """256 colours: a screenshot of a UI loses nothing visible and shrinks several times."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp())
    db = tmp / "spyglass-demo.duckdb"
    ids = build(db)
    port = _port()
    env = dict(os.environ, OPENAI_API_KEY="stand-in-not-a-key", OPENAI_BASE_URL=standin_server())
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "view", "--db", str(db), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            main_area = '[data-testid="stMain"]'

            # 1. the list, filtered to suspected hallucinations
            page.goto(url)
            page.get_by_text("8 traces").wait_for()
            page.get_by_role("combobox", name="Hallucination").click()
            page.get_by_role("option").filter(has_text="suspected").first.click()
            page.get_by_text("1 trace ·").wait_for()
            time.sleep(1)
            page.screenshot(path=str(OUT / "debug-1-list.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 640})

            # 2. the answer sentence by sentence; the unsupported one's best document in Context
            page.set_viewport_size({"width": 1400, "height": 1800})  # the panels on screen, no scrolling
            page.goto(f"{url}/?trace={ids[BATTERY_Q]}")
            output = page.locator(".st-key-panel-output")
            output.get_by_text("names in no document").wait_for()
            output.get_by_role("button", name="best document").nth(1).click()
            page.locator(".st-key-context-focus").wait_for()
            page.evaluate("document.querySelector('.st-key-panel-output').scrollTop = 0")
            time.sleep(1)
            box = page.locator(".st-key-panel-context").bounding_box()
            page.screenshot(
                path=str(OUT / "debug-2-answer.png"),
                clip={"x": box["x"] - 10, "y": box["y"] - 40, "width": 1400 - box["x"], "height": 620},
            )

            # 3. replay without the truncated document (against the stand-in)
            page.get_by_text("Replay this call").click()
            form = page.locator('[data-testid="stExpander"]').filter(has_text="Replay this call")
            form.get_by_text("remove a document").click()
            page.get_by_role("combobox", name="Document to remove").click()
            page.get_by_role("option").filter(has_text="kb-battery").first.click()
            form.get_by_role("button", name="Replay").click()
            after = page.locator(".st-key-replay-after")
            after.wait_for()
            time.sleep(1)
            after.scroll_into_view_if_needed()
            box = form.bounding_box()
            page.screenshot(
                path=str(OUT / "debug-3-replay.png"),
                full_page=True,
                clip={
                    "x": box["x"] - 10,
                    "y": box["y"] + box["height"] - 420,
                    "width": box["width"] + 20,
                    "height": 430,
                },
            )

            # 4. annotate
            ann = page.locator(".st-key-annotate")
            ann.get_by_text("hallucination", exact=True).click()
            ann.get_by_label("Note").fill("18 hours and Norway are in no document; kb-battery says 12 hours")
            ann.get_by_label("Author (optional)").fill("maya")
            ann.get_by_label("Author (optional)").press("Enter")
            ann.get_by_role("button", name="Save annotation").click()
            page.get_by_text("Saved: hallucination on this span.").wait_for()
            time.sleep(1)
            top = page.get_by_text("Annotations (1)").bounding_box()
            bottom = page.get_by_text("Saved: hallucination on this span.").bounding_box()
            page.screenshot(
                path=str(OUT / "debug-4-annotate.png"),
                full_page=True,
                clip={
                    "x": top["x"] - 10,
                    "y": top["y"] - 10,
                    "width": 1400 - top["x"],
                    "height": bottom["y"] + bottom["height"] - top["y"] + 30,
                },
            )

            # 5. compare with another answer
            page.set_viewport_size({"width": 1400, "height": 2600})  # all of it on screen: page = viewport coords
            page.goto(f"{url}/?compare={ids[BATTERY_Q]},{ids[BRIGHTNESS_Q]}")
            page.get_by_text("+++ B").first.wait_for()
            page.locator('[data-testid="stCode"]').nth(1).wait_for()  # the prompt diff too
            time.sleep(1)
            main = page.locator(main_area).bounding_box()
            table = page.locator('[data-testid="stDataFrame"]').last.bounding_box()
            page.screenshot(
                path=str(OUT / "debug-5-compare.png"),
                clip={
                    "x": main["x"] + 60,
                    "y": 140,
                    "width": main["width"] - 120,
                    "height": table["y"] + table["height"] - 130,
                },
            )
            # 6. the top of the trace screen: question, answer, unsupported facts, waterfall
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.goto(f"{url}/?trace={ids[BATTERY_Q]}")
            page.locator(".st-key-glance").get_by_text("unsupported by the context").wait_for()
            page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
            time.sleep(2)
            main = page.locator(main_area).bounding_box()
            chart = page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()
            page.screenshot(
                path=str(OUT / "debug-6-trace-top.png"),
                clip={
                    "x": main["x"] + 60,
                    "y": 20,
                    "width": main["width"] - 120,
                    "height": chart["y"] + chart["height"],
                },
            )

            # 7. the session of that question, turn by turn
            session = page.get_by_role("button", name="Open session")
            session.click()
            page.get_by_text("Turn 2").first.wait_for()
            time.sleep(1)
            page.screenshot(
                path=str(OUT / "debug-7-session.png"),
                full_page=True,
                clip={"x": 0, "y": 0, "width": 1400, "height": 900},
            )

            # 8. the dashboards, by prompt version, and the A/B table
            page.set_viewport_size({"width": 1400, "height": 2200})
            page.goto(f"{url}/?view=dashboards&dash_by=prompt+version")
            page.get_by_text("Prompt versions").first.wait_for()
            page.locator('[data-testid="stVegaLiteChart"]').nth(3).wait_for()
            time.sleep(2)
            page.screenshot(path=str(OUT / "debug-8-dashboards.png"), full_page=True)

            # 9. a search by a word's beginning, the match highlighted
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.goto(f"{url}/?q=batt*")
            page.get_by_text("Where the search matched").first.wait_for()
            time.sleep(1)
            page.screenshot(path=str(OUT / "debug-9-search.png"), full_page=True)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    for png in sorted(OUT.glob("debug-*.png")):
        shrink(png)
        print(f"{png.relative_to(REPO)}: {png.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
