"""WSGI entry point: `gunicorn wsgi:app`."""

from dms import create_app

app = create_app()
