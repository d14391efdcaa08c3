"""A real headless Chromium (Debian's) logs in, uploads, sees the file, downloads, logs out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.http_support import base_url, http_appliance

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "tests" / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with http_appliance(tmp_path_factory.mktemp("http-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("service", ["web", "webs"])
def test_browser_login_upload_list_download_logout(app, browser, service, tmp_path: Path):
    source = tmp_path / f"from-{service}.txt"
    source.write_text(f"uploaded through the page over {service}\n")
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(base_url(app, service) + "/")
    page.fill("#username", "alice")
    page.fill("#password", "alice-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/files/")

    page.set_input_files("#upload-files", str(source))
    page.click("#upload button[type=submit]")
    link = page.locator("#listing a", has_text=source.name)
    link.wait_for()
    assert (app.home("alice") / source.name).read_text() == source.read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"http-listing-{service}.png"), full_page=True)

    with page.expect_download() as download_info:
        link.click()
    saved = tmp_path / "downloaded.txt"
    download_info.value.save_as(saved)
    assert saved.read_text() == source.read_text()

    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(base_url(app, service) + "/files/")
    assert page.url.endswith("/login"), "after logout the listing needs a new login"
    context.close()
    app.wait_event(20050, lambda e: e["data"]["path"] == "/" + source.name)
    app.wait_event(
        20027,
        lambda e: (
            e["account"] == "alice"
            and e["data"]["protocol"] == ("https" if service == "webs" else "http")
        ),
    )
