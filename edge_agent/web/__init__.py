"""The touchscreen UI's Flask app factory. It writes through the journal, never through MQTT."""

from __future__ import annotations

from flask import Flask

from edge_agent.agent import Agent
from edge_agent.web import (  # noqa: F401  (their routes join the ``ui`` blueprint)
    correction_views,
    print_views,
    scan_views,
    supply_views,
)
from edge_agent.web.display import install_display
from edge_agent.web.guard import allowed_hosts, install_guard, load_or_create_secret
from edge_agent.web.http_extras import install_http_extras
from edge_agent.web.i18n import install_i18n
from edge_agent.web.once import install_form_tokens
from edge_agent.web.supply_context import install_recall_banner
from edge_agent.web.views import bp
from edge_agent.web.workers import install_workers


def create_app(agent: Agent) -> Flask:
    app = Flask(__name__)
    app.extensions["ocop_agent"] = agent
    ui = agent.config.ui
    # Guards first: a foreign Host or a cross-site write is refused before anything else runs.
    install_guard(app, ui, load_or_create_secret(agent.config.ui_secret_path), allowed_hosts(ui))
    install_i18n(app, ui.default_language)
    install_workers(app)
    install_display(app)
    install_form_tokens(app)
    install_recall_banner(app)
    app.register_blueprint(bp)
    install_http_extras(app)  # last: gzip wraps everything above
    return app
