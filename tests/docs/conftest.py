"""Fixtures of the documentation tests: the contract tests' clean-up of storage tables."""

from tests.contract.conftest import _drop_storage_tables_after_transactional_test  # noqa: F401
