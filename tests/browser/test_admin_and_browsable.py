"""In Chromium: a person signs in to the admin, opens a storage's page and follows its
links; reads the browsable API's list, a record and its error pages."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

from factory.tests.factories import dogs_definition
from storage.runtime import runtime_for
from storage.services import record_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dogs(create_storage) -> int:
    create_storage(dogs_definition())
    rex = record_create(
        runtime=runtime_for("dogs"),
        data={"name": "Rex", "breed": "beagle", "registered_at": "2024-05-01T12:00:00Z"},
    )
    record_create(
        runtime=runtime_for("dogs"), data={"name": "Ada", "registered_at": "2024-05-02T12:00:00Z"}
    )
    return rex.pk


def text(browser) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def test_sign_in_to_the_admin_open_a_storage_and_follow_its_links(
    page, live_server, superuser, dogs, screenshot
):
    page.get(f"{live_server.url}/admin/")
    page.find_element(By.ID, "id_username").send_keys("boss")
    page.find_element(By.ID, "id_password").send_keys("s3cret-pw")
    page.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    page.find_element(By.LINK_TEXT, "Storage definitions").click()
    page.find_element(By.LINK_TEXT, "dogs").click()

    storage = text(page)
    screenshot("admin-storage")
    assert "version 1: ready; serving version 1" in storage
    assert "weight_kg decimal no yes decimal_places 2, max_digits 6" in storage
    assert "name, born btree yes" in storage
    records = page.find_element(By.CSS_SELECTOR, ".field-records .readonly").text
    assert records == "2"

    page.find_element(By.CLASS_NAME, "storage-records").click()
    listed = text(page)
    screenshot("browsable-records-via-admin")
    assert page.current_url == f"{live_server.url}/api/v1/storage/dogs/"
    assert "Signed in as boss" in listed
    assert '"name": "Rex"' in listed
    assert '"name": "Ada"' in listed

    page.back()
    page.find_element(By.CLASS_NAME, "storage-contract").click()
    WebDriverWait(page, 30).until(
        shown.presence_of_element_located((By.ID, "operations-default-create_dogs"))
    )
    assert "datastorage: dogs" in text(page)


def test_the_browsable_api_lists_shows_a_record_and_its_error_pages(
    page, live_server, superuser, sign_in, dogs, screenshot
):
    anonymous_url = f"{live_server.url}/api/v1/storage/dogs/"
    page.get(anonymous_url)
    refused = text(page)
    screenshot("browsable-401")
    sign_in(superuser)

    page.get(f"{live_server.url}/api/v1/factory/storage/")
    storages = text(page)
    screenshot("browsable-storages")
    page.get(f"{live_server.url}/api/v1/storage/dogs/{dogs}/")
    record = text(page)
    screenshot("browsable-record")
    page.get(f"{live_server.url}/api/v1/storage/dogs/999/")
    missing = text(page)
    screenshot("browsable-404")
    page.get(f"{live_server.url}/api/v1/storage/dogs")
    no_slash = text(page)
    screenshot("no-route-404")

    assert "HTTP 401 Unauthorized" in refused
    assert '"type": "not-authenticated"' in refused
    assert "Sign in (admin)" in refused
    assert '"name": "dogs"' in storages
    assert "Signed in as boss" in storages
    assert '"name": "Rex"' in record
    assert 'ETag: "1"' in record
    assert "HTTP 404 Not Found" in missing
    assert '"type": "record-not-found"' in missing
    assert "<" not in missing.split("HTTP 404 Not Found", 1)[1][:40]  # a page, not markup
    assert "404 Not found" in no_slash
    assert "Did you mean /api/v1/storage/dogs/?" in no_slash
