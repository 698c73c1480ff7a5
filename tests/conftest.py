"""Shared fixtures: a real OpenSSH sshd on 127.0.0.1 (skipped without root/sshd, unless CI)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sshd as sshd_helpers  # noqa: E402


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[sshd_helpers.SSHServer]:
    """A test sshd with aliases web1..web20, fleet1..fleet100, testhost and jumped (ProxyJump)."""
    reason = sshd_helpers.unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the test sshd cannot run: {reason}")
        pytest.skip(reason)
    server = sshd_helpers.start_server()
    yield server
    server.stop()


@pytest.fixture()
def sshd_alive(sshd_server: sshd_helpers.SSHServer) -> Iterator[sshd_helpers.SSHServer]:
    """The test sshd, restarted afterwards if the test killed it (fault tests)."""
    yield sshd_server
    if sshd_server.proc is None or sshd_server.proc.poll() is not None:
        sshd_server.start()


@pytest.fixture(scope="session")
def sudo_users() -> None:
    """rbtest (with a known password) may sudo to root and rbtest2, by password (not NOPASSWD)."""
    reason = sshd_helpers.sudo_unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but sudo cannot be tested: {reason}")
        pytest.skip(reason)
    sshd_helpers.ensure_sudo()


@pytest.fixture(scope="session")
def sudo_server(sudo_users: None, sshd_server: sshd_helpers.SSHServer) -> sshd_helpers.SSHServer:
    """The test sshd, whose user may sudo (to root and rbtest2) with its password."""
    return sshd_server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by Playwright (skipped without it, unless CI)."""
    import webserve

    reason = webserve.browser_unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=webserve.CHROMIUM,
                                              args=webserve.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _no_server_left_running() -> Iterator[None]:
    """A web test that fails midway still stops the `runbook serve` it started."""
    yield
    if "webserve" in sys.modules:
        sys.modules["webserve"].stop_all()
