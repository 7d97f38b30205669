"""The operator's web console: jobs, one job, an overview, and Cancel and Retry.

Server-rendered pages (Flask and Jinja2, autoescaped; charts drawn as inline SVG), no
script and no build step. It reads and acts only through the core (`models`): `errand`
starts it and hands it the database, the kinds and the dispatcher that carries a cancel
to the workers.
"""
