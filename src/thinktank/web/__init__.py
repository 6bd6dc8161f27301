"""The browser UI: server-rendered pages (Jinja2), htmx fragments, and a little plain JavaScript."""
