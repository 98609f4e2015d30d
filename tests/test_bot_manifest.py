"""deploy/slack-manifest.yaml asks for exactly what the code uses: its events, its slash command, and the scopes of
the Web API methods found in bot/ (read from the source, not from a list kept by hand)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from slack_sdk import WebClient

from bot import surface

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "deploy" / "slack-manifest.yaml").read_text())
# slack_sdk helpers that are several Web API methods.
COMPOSITE = {"files_upload_v2": {"files.getUploadURLExternal", "files.completeUploadExternal"}}


def web_api_methods_called_in(package: Path) -> set[str]:
    """Every ``<something>.<WebClient method>(...)`` call in the package, as Slack method names."""
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if "_" in name and not name.startswith("_") and callable(getattr(WebClient, name, None)) \
                        and name not in ("api_call",):
                    found |= COMPOSITE.get(name, {name.replace("_", ".")})
    return found


def test_every_web_api_method_the_code_calls_is_declared_and_every_declared_one_is_called():
    assert web_api_methods_called_in(ROOT / "bot") == set(surface.WEB_API_METHODS)


def test_manifest_scopes_are_exactly_what_the_code_needs():
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == surface.bot_scopes()
    assert "user" not in MANIFEST["oauth_config"]["scopes"]


def test_manifest_events_are_the_ones_the_listeners_register():
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == set(surface.BOT_EVENTS)


def test_manifest_slash_command_interactivity_socket_mode_and_home():
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == [surface.COMMAND]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    home = MANIFEST["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"] and not home["messages_tab_read_only_enabled"]


def test_the_app_handles_every_subscribed_event_and_nothing_else(tmp_path):
    from tests.bot_harness import Harness, bot_settings
    from tests.fakes import slack_payloads as payloads
    from tests.fakes.slack_server import fake_slack

    bodies = {"app_mention": payloads.app_mention("help"), "app_home_opened": payloads.app_home_opened(),
              "message.im": payloads.message("help", channel_type="im"),
              "message.channels": payloads.message("hi", channel_type="channel", thread_ts="1.1"),
              "message.groups": payloads.message("hi", channel="G1", channel_type="group", thread_ts="1.1")}
    assert set(bodies) == set(surface.BOT_EVENTS)
    with fake_slack() as slack:
        bot = Harness(slack, bot_settings(tmp_path / "ws"))
        assert {name: bot.dispatch(body).status for name, body in bodies.items()} == dict.fromkeys(bodies, 200)
        unknown = payloads.event_body({"type": "reaction_added", "user": "U1", "event_ts": "1.2"})
        assert bot.dispatch(unknown).status == 404
