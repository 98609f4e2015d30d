"""Every error a user can cause. The CLI turns each into one line on stderr and exit code 2."""


class AutogetsError(Exception):
    """Base class: a problem with the user's input or environment, reported as one line."""


class DataError(AutogetsError):
    """The data set cannot be loaded, validated or split."""


class ConfigError(AutogetsError):
    """A configuration value (TOML file or environment variable) is invalid."""


class WorkspaceError(AutogetsError):
    """The workspace folder or its database cannot be used."""


class GenerationError(AutogetsError):
    """The generator could not produce any synthetic text."""


class SearchError(AutogetsError):
    """A search was asked for something impossible (unknown class, no budget, no candidates)."""


class RegistryError(AutogetsError):
    """A model version does not exist or cannot be promoted or rolled back."""


class ExecutorError(AutogetsError):
    """The executor cannot start, or a task failed in a worker (after its retries) and its result is missing."""


class RunConflict(AutogetsError):
    """Another process is working on the run, or on another run of the same data set (see :mod:`autogets.leases`)."""


class Resumable(AutogetsError):
    """A step stopped for a cause that may pass (an LLM server down or timing out, a missing setting): what it did
    is kept, and the run continues from that step when it is resumed."""


class DiskFull(Resumable, WorkspaceError):
    """No space left on the workspace's disk: what was stored is kept, and the step runs again once space is freed."""


class GenerationStopped(Resumable, GenerationError):
    """Generation stopped with source examples left ungenerated; the texts generated so far stay in the cache."""


class EmbeddingError(AutogetsError):
    """The sentence encoder is missing or cannot be loaded, or an embedding server failed."""
