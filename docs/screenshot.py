"""Take docs/notebook.png: `runbook serve` on a bundled runbook, a few steps run from the page in
Debian's chromium (headless, through Playwright), the next one waiting for the operator.

    python docs/screenshot.py [--book books/host-health.md] [--steps 3] [--dark] [-o FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def serve(book: Path, folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`runbook serve` on ``book``, and its operator URL."""
    proc = subprocess.Popen([sys.executable, "-m", "runbook_engine", "serve", str(book),
                             "--transcript", str(folder / "t.jsonl")], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"operator: (http://\S+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit(f"runbook serve did not start: {proc.stderr.read() if proc.stderr else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", default="books/host-health.md", help="relative to the repo")
    parser.add_argument("--steps", type=int, default=3, help="steps to run before the picture")
    parser.add_argument("--dark", action="store_true", help="the dark colour scheme")
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "notebook.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        proc, url = serve(Path(args.book), Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 960},
                                        color_scheme="dark" if args.dark else "light")
                page.set_default_timeout(30_000)
                page.goto(url)
                for _ in range(args.steps):
                    prompt = page.locator(".prompt").first
                    prompt.wait_for()
                    step = prompt.locator("xpath=ancestor::section[@data-step]")
                    name = step.get_attribute("data-step")
                    prompt.get_by_role("button", name="Run y").click()
                    page.wait_for_selector(f'section.cell[data-step="{name}"].st-ok')
                prompt = page.locator(".prompt").first
                prompt.wait_for()
                page.wait_for_timeout(400)  # the last output drawn, the smooth scroll done
                # the waiting step near the bottom, the finished ones above it
                page.evaluate("() => { const p = document.querySelector('.prompt'); "
                              "window.scrollBy(0, p.getBoundingClientRect().bottom - "
                              "window.innerHeight + 40); }")
                page.wait_for_timeout(300)
                page.screenshot(path=args.output)
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    print(args.output)


if __name__ == "__main__":
    main()
