"""Fixtures for the territories tests."""

import pytest
from flask import render_template_string


@pytest.fixture
def render_picker(app):
    """render_picker(code, required=False) -> the region picker macro's HTML inside a form."""

    def render(code=None, required=False):
        with app.test_request_context("/"):
            return render_template_string(
                '{% from "macros/region_picker.html" import region_picker %}'
                '<form method="post">{{ region_picker("region", code, required) }}</form>',
                code=code, required=required)

    return render
