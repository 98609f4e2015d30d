"""Run configuration of the agent (react-agent's ``context.py``): nodes receive it, they never read the environment.

Built once by a front-end from :class:`autogets.config.Settings` plus the agent's own variables:
``AUTOGETS_APPROVERS`` (comma-separated user ids, or a user-group id, who may review, promote and roll back
besides the requester), ``AUTOGETS_PROMOTE_APPROVAL=1`` (promotion to production needs a second approval),
``AUTOGETS_REVIEW_PAGE_SIZE``, ``AUTOGETS_BUDGET``, ``AUTOGETS_GENERATOR``, ``AUTOGETS_EXECUTOR`` (where candidate
evaluations run: ``local`` processes, ``serial`` or ``ray``, which joins ``RAY_ADDRESS`` if set),
``AUTOGETS_DATA_DIRS`` (the folders chat users' data files may come from, :mod:`agent.datafiles`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.api import Notifier, NullNotifier
from agent.datafiles import DataFolders, data_dirs_from_env
from agent.policy import Policy
from autogets.config import LLMSettings, Settings, load_settings
from autogets.errors import ConfigError
from autogets.workspace import Workspace

EXECUTORS = ("local", "serial", "ray")


@dataclass(frozen=True, kw_only=True)
class AgentContext:
    workspace: Path
    generator: str = "embedded"
    budget: int = 200
    n_per_example: int = 5
    max_sources: int | None = None
    page_size: int = 10
    executor: str = "local"
    # M0's classifier: "auto" (chosen by cross-validation) or a name; by default the settings' (AUTOGETS_CLASSIFIER)
    classifier: str = field(default_factory=lambda: load_settings().classifier)
    seed: int = 42
    approvers: frozenset[str] = frozenset()
    promote_approval: bool = False
    runs_per_dataset: int = 1           # runs of one data set computing at once (more are refused, naming the run)
    llm: LLMSettings = field(default_factory=LLMSettings)
    progress_interval: float = 0.5      # seconds between progress events of one step (throttle)
    # folders chat users' data files may come from (AUTOGETS_DATA_DIRS); none: the bundled data sets only
    data_dirs: tuple[Path, ...] = ()
    notifier: Notifier = field(default_factory=NullNotifier, repr=False, compare=False)
    # the workspace, opened once with the context and shared by every node and call (one connection per thread)
    ws: Workspace = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.ws is None or Path(self.ws.root) != Path(self.workspace):  # replace(workspace=…) gets its own
            object.__setattr__(self, "ws", Workspace(self.workspace))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, env: dict[str, str] | None = None,
                      **overrides) -> AgentContext:
        settings = settings or load_settings(env)
        env = dict(os.environ) if env is None else env
        approvers = frozenset(a.strip() for a in env.get("AUTOGETS_APPROVERS", "").split(",") if a.strip())
        try:
            page_size = int(env.get("AUTOGETS_REVIEW_PAGE_SIZE", "10"))
            budget = int(env.get("AUTOGETS_BUDGET", "200"))
        except ValueError:
            raise ConfigError("AUTOGETS_REVIEW_PAGE_SIZE and AUTOGETS_BUDGET must be integers") from None
        if not 1 <= page_size <= 50 or budget < 1:
            raise ConfigError("AUTOGETS_REVIEW_PAGE_SIZE must be 1–50 and AUTOGETS_BUDGET at least 1")
        executor = env.get("AUTOGETS_EXECUTOR", "").strip() or "local"
        if executor not in EXECUTORS:
            raise ConfigError(f"AUTOGETS_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        base = cls(workspace=Path(settings.workspace), seed=settings.seed, llm=settings.llm, approvers=approvers,
                   classifier=settings.classifier,
                   promote_approval=env.get("AUTOGETS_PROMOTE_APPROVAL", "") in ("1", "true", "yes"),
                   page_size=page_size, budget=budget, generator=env.get("AUTOGETS_GENERATOR", "embedded"),
                   executor=executor, data_dirs=data_dirs_from_env(env))
        return replace(base, **overrides)

    @property
    def data_folders(self) -> DataFolders:
        """Where a chat user's data files may come from: :attr:`data_dirs`, never the workspace."""
        return DataFolders.of(self.data_dirs, self.workspace)

    @property
    def policy(self) -> Policy:
        """Who may review, resume, promote and roll back (:mod:`agent.policy`)."""
        return Policy(self.approvers)
