"""In Chromium: Swagger UI picks a storage's contract and runs "Try it out" with the
defaults it shows; ReDoc renders a contract with nothing but the server reachable."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import Select, WebDriverWait

from factory.tests.factories import dogs_definition
from tests.browser.conftest import requests_elsewhere

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dogs(create_storage) -> None:
    create_storage(dogs_definition())


def wait_for(browser, css: str, timeout: float = 30):
    return WebDriverWait(browser, timeout).until(
        shown.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def try_it_out(browser, operation: str, **parameters: str) -> tuple[str, str]:
    """Expand an operation, press "Try it out", fill path parameters, execute: the status
    and the body Swagger UI shows."""
    block = wait_for(browser, f"#{operation}")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(browser, f"#{operation} .try-out__btn").click()
    for name, value in parameters.items():
        field = block.find_element(By.CSS_SELECTOR, f'tr[data-param-name="{name}"] input')
        field.clear()
        field.send_keys(value)
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    answer = f"#{operation} .live-responses-table tbody .response"
    status = wait_for(browser, f"{answer} .response-col_status")
    body = browser.find_element(By.CSS_SELECTOR, f"{answer} .response-col_description")
    browser.execute_script("arguments[0].scrollIntoView()", status)
    return status.text, body.text


def test_swagger_ui_picks_a_contract_and_tries_a_create_and_a_list(
    page, live_server, superuser, sign_in, dogs, screenshot
):
    sign_in(superuser)
    requests_elsewhere(page, live_server.url)  # forget what came before
    page.get(f"{live_server.url}/api/docs/")
    picker = WebDriverWait(page, 30).until(
        shown.element_to_be_clickable((By.CSS_SELECTOR, ".topbar select"))
    )
    wait_for(page, "#operations-storage-storage_records_list")  # the global one is loaded
    Select(picker).select_by_visible_text("dogs")
    wait_for(page, "#operations-default-create_dogs")

    created, created_body = try_it_out(page, "operations-default-create_dogs")
    screenshot("swagger-create")
    listed, listed_body = try_it_out(page, "operations-default-list_dogs")
    screenshot("swagger-list")

    assert created == "201", created_body
    assert '"registered_at": "2024-05-01T12:00:00Z"' in created_body
    assert listed == "200", listed_body
    assert '"_version": 1' in listed_body
    assert requests_elsewhere(page, live_server.url) == []


def test_swagger_ui_tries_the_global_records_list_with_its_defaults(
    page, live_server, superuser, sign_in, dogs, screenshot
):
    sign_in(superuser)
    page.get(f"{live_server.url}/api/docs/")

    status, body = try_it_out(page, "operations-storage-storage_records_list", name="dogs")
    screenshot("swagger-global-list")

    # The free-form filter box is not sent (no `additionalProp1=string`): 200, not 400.
    assert status == "200", body
    assert '"results": []' in body


def test_swagger_ui_creates_a_storage_then_a_record_with_the_example_bodies(
    page, live_server, superuser, sign_in, screenshot
):
    sign_in(superuser)
    page.get(f"{live_server.url}/api/docs/")

    storage, storage_body = try_it_out(page, "operations-factory-factory_storage_create")
    screenshot("swagger-create-storage")
    record, record_body = try_it_out(page, "operations-storage-storage_records_create", name="dogs")

    assert storage == "201", storage_body
    assert '"name": "dogs"' in storage_body
    assert record == "201", record_body
    assert '"name": "Rex"' in record_body


def test_redoc_renders_a_contract_offline(page, live_server, superuser, sign_in, dogs, screenshot):
    sign_in(superuser)
    requests_elsewhere(page, live_server.url)  # forget what came before
    page.get_log("browser")
    page.get(f"{live_server.url}/api/redoc/?storage=dogs")
    WebDriverWait(page, 30).until(
        shown.text_to_be_present_in_element((By.ID, "redoc-container"), "datastorage: dogs")
    )
    screenshot("redoc-dogs")

    assert requests_elsewhere(page, live_server.url) == []
    assert "create_dogs" in page.page_source or "RecordCreate" in page.page_source
    errors = [entry["message"] for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
    # The one refusal is the policy's, of Redocly's logo on their CDN (storage.docs_views).
    assert all("cdn.redoc.ly" in message for message in errors), errors
