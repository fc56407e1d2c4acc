"""The search page end to end in headless Chromium (Debian's chromium + chromium-driver):
type a phrase, wait for the debounced suggestions, choose with the keyboard, copy, screenshot."""
import os
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server(retriever):
    import uvicorn

    from retriever.server import create_app
    from retriever.service import Service

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(Service([retriever])), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(DRIVER), options=options)
    yield driver
    driver.quit()


CODES = "#results li[role=option]"  # the category heads between them are not choices


def _codes(browser):
    from selenium.webdriver.common.by import By

    return [li.get_attribute("data-code") for li in browser.find_elements(By.CSS_SELECTOR, CODES)]


def test_type_choose_copy(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    box = browser.find_element(By.ID, "q")
    box.send_keys("broken hip")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: _codes(b)[:1] == ["FX.HIP"])
    first = browser.find_element(By.CSS_SELECTOR, CODES)
    assert "Fracture of neck of femur" in first.text and "billable" in first.text
    # its category stands above it
    assert browser.find_element(By.CSS_SELECTOR, "#results li.category").text == "FX Fractures"
    assert "FX → FX.FEM → FX.HIP" in first.text  # the hierarchy path
    assert "picked" in first.get_attribute("class")

    box.send_keys(Keys.ARROW_DOWN)
    second = _codes(browser)[1]
    assert "picked" in browser.find_elements(By.CSS_SELECTOR, CODES)[1].get_attribute("class")
    box.send_keys(Keys.ENTER)
    wait.until(lambda b: b.find_element(By.ID, "toast").text == f"copied {second}")

    # typing on replaces the list (the debounce answers the newest phrase only)
    box.send_keys(Keys.ESCAPE)
    box.send_keys("AFib")
    wait.until(lambda b: _codes(b)[:1] == ["CARD.AF"])
    assert "excludes: atrial flutter" in browser.find_element(By.CSS_SELECTOR, CODES).text
    shot = os.environ.get("MEDCODE_SCREENSHOT") or str(tmp_path / "search-page.png")
    assert browser.save_screenshot(shot) and os.path.getsize(shot) > 1000


def test_bad_input_shows_the_servers_message(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    browser.find_element(By.ID, "q").send_keys("x" * 2100)
    WebDriverWait(browser, 20).until(lambda b: "limit is 2000" in b.find_element(By.ID, "status").text)
    assert _codes(browser) == []


def test_note_mode_marks_the_mentions(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    browser.find_element(By.ID, "mode-note").click()
    assert browser.find_element(By.ID, "phrase-mode").get_attribute("hidden") is not None
    browser.find_element(By.ID, "note").send_keys("Broken hip after a fall. No evidence of pneumonia.")
    browser.find_element(By.ID, "code-note").click()
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: "codes selected" in b.find_element(By.ID, "note-status").text)
    marks = {m.text: m.get_attribute("class") for m in browser.find_elements(By.CSS_SELECTOR, "#marked mark")}
    assert any("negated" in cls for text, cls in marks.items() if "pneumonia" in text)
    assert browser.find_element(By.ID, "marked").text.startswith("Broken hip")
    codes = [li.get_attribute("data-code") for li in browser.find_elements(By.CSS_SELECTOR, "#note-codes li.selected")]
    assert "FX.HIP" in codes and "RESP.PNA" not in codes
