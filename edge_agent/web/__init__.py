"""The touchscreen UI's Flask app factory. It writes through the journal, never through MQTT."""

from __future__ import annotations

from flask import Flask

from edge_agent.agent import Agent
from edge_agent.web.i18n import install_i18n
from edge_agent.web.views import bp


def create_app(agent: Agent) -> Flask:
    app = Flask(__name__)
    app.extensions["ocop_agent"] = agent
    install_i18n(app, agent.config.ui.default_language)
    app.register_blueprint(bp)
    return app
