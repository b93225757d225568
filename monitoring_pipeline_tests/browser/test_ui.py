"""What a person sees, in a real browser: the Dagster webserver on 127.0.0.1 over a temp demo lake, opened in
headless Chromium (Debian's package, driven by Playwright), and the HTML report opened from disk with every
request watched. Screenshots land in test-artifacts/ (README's pictures come from there)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from monitoring_pipeline.demo.lake import build_demo_lake
from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline.io.config_file import PROJECT_ROOT, load_config
from monitoring_pipeline.viz.report import report_html
from monitoring_pipeline_tests.conftest import write_short_config

pytestmark = pytest.mark.browser

START = date(2026, 10, 1)  # the channel mix changes on 10-11: drift to look at
DAYS = 14
DRIFT_DAY = "2026-10-12"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Debian's chromium is not installed: run scripts/install-browser (README's test command does)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A 14-day credit_risk lake materialized through Dagster into its own DAGSTER_HOME."""
    folder = tmp_path_factory.mktemp("ui")
    config_path = write_short_config(folder, START, DAYS, baseline_days=7)
    build_demo_lake(load_config(config_path), scale=0.25, progress=lambda _: None, label_feed=False)
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        materialize_model(config_path, None, "credit_risk", instance)
    yield config_path, home


@pytest.fixture(scope="module")
def webserver(lake: tuple[Path, Path]) -> Iterator[str]:
    config_path, home = lake
    port = _free_port()
    env = {**os.environ, "MP_CONFIG": str(config_path), "DAGSTER_HOME": str(home)}
    command = [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*command, "-w", str(PROJECT_ROOT / "workspace.yaml")],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Dagster webserver did not answer on 127.0.0.1 within 120 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())  # Dagster's welcome
    page.goto(url, wait_until="networkidle")
    return page


def _visible_text(page: Page, text: str):
    return page.get_by_text(text, exact=True).filter(visible=True).first


def _shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    return path


def test_the_catalog_lists_the_monitoring_assets_with_their_partitions(browser: Browser, webserver: str) -> None:
    page = _open(browser, f"{webserver}/assets/credit_risk")
    for name in ("prediction_log", "validated_predictions", "feature_profiles", "drift_report", "performance"):
        _visible_text(page, name).wait_for(timeout=30_000)
    partitions = page.get_by_text(f"{DAYS} partitions")
    for _ in range(60):  # the counts render after the names, late on a loaded machine
        if partitions.count() >= 8:
            break
        page.wait_for_timeout(500)
    assert partitions.count() >= 8  # every daily asset, all of them materialized
    assert _shot(page, "ui-catalog.png").stat().st_size > 10_000


def test_the_lineage_graph_shows_the_chain_to_the_drift_report(browser: Browser, webserver: str) -> None:
    lineage = "view=lineage&lineageScope=upstream&lineageDepth=3"  # three levels up reach the raw log
    page = _open(browser, f"{webserver}/assets/credit_risk/drift_report?{lineage}")
    for name in ("prediction_log", "output_profiles", "feature_profiles", "definitions"):
        _visible_text(page, name).wait_for(timeout=30_000)
    assert _shot(page, "ui-asset-graph.png").stat().st_size > 10_000


def test_partitions_and_a_drift_materialization_render_with_pictures(browser: Browser, webserver: str) -> None:
    page = _open(browser, f"{webserver}/assets/credit_risk/drift_report?view=partitions&partition={DRIFT_DAY}")
    page.get_by_text(f"Materialized ({DAYS})").wait_for(timeout=30_000)
    _visible_text(page, "drifted_features").wait_for(timeout=30_000)
    _visible_text(page, "channel").wait_for(timeout=30_000)  # the worst-columns table, rendered from markdown
    pictures = page.get_by_role("row").filter(has=page.get_by_text("pictures", exact=True))
    pictures.get_by_text("[Show Markdown]").click()
    images = page.locator("img[src^='data:image/svg+xml']")
    images.first.wait_for(timeout=30_000)
    decoded = images.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 100)")
    assert len(decoded) >= 2 and all(decoded)  # the worst columns and the heatmap, drawn by the browser
    page.wait_for_timeout(1000)  # the dialog's fade-in, for the screenshot
    assert _shot(page, "ui-drift-pictures.png").stat().st_size > 10_000


def test_a_drifting_day_shows_its_health_check_as_failed_with_the_signal(browser: Browser, webserver: str) -> None:
    page = _open(browser, f"{webserver}/assets/credit_risk/drift_report?view=checks")
    _visible_text(page, "no_column_drifting").wait_for(timeout=30_000)
    _visible_text(page, "feature_drift 1 >= 1").wait_for(timeout=30_000)  # the latest day: channel drifts
    assert page.get_by_text("Failed", exact=True).filter(visible=True).count() >= 1
    assert _visible_text(page, "This is a non-blocking asset check.").is_visible()  # WARN: the day turns yellow
    assert _shot(page, "ui-health-check.png").stat().st_size > 10_000


def test_the_html_report_opens_offline_with_its_pictures(browser: Browser, lake: tuple[Path, Path]) -> None:
    config_path, _ = lake
    config = load_config(config_path)
    path = ARTIFACTS / "report-credit_risk.html"
    ARTIFACTS.mkdir(exist_ok=True)
    path.write_text(report_html(config, config.model("credit_risk"), date(2026, 10, 14), DAYS, lambda _: None))
    assert path.stat().st_size < 3_000_000
    page = browser.new_page(viewport={"width": 1200, "height": 1600})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path.as_uri(), wait_until="load")
    assert [u for u in requested if not u.startswith(("file:", "data:"))] == []  # nothing fetched from anywhere
    assert page.locator("svg").count() >= 4  # heatmap, worst columns, output trends, guard rates (and accuracy)
    assert page.get_by_text("credit_risk: monitoring report for 2026-10-14").is_visible()
    summary = page.locator("div.summary")  # the verdict first: the channel mix drifts from 10-11
    assert summary.get_by_text("In trouble on 2026-10-14").is_visible() and "channel" in summary.inner_text()
    assert str(config.lake.root) not in path.read_text()  # nothing machine-specific
    assert page.locator("td.drift").count() >= 1  # channel drifts from 10-11
    assert _shot(page, "report.png").stat().st_size > 10_000
