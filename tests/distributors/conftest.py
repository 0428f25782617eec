"""The distributors tests use the shared factories of tests/factories.py (made fixtures by tests/conftest.py)."""

from tests.factories import credit_code, id_number  # noqa: F401 - imported from here by older tests
