"""Where log lines go: the project's own progress on the terminal, everything else in the run's log file.

By default the terminal shows INFO from the project's loggers and errors from any library; Ray
workers' output is not forwarded (it stays in Ray's session logs, linked from RUN_DIR/logs), and
vLLM, transformers, W&B and Ray Data progress bars are told to be quiet. `--verbose` shows everything.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

PROJECT_LOGGERS = ("auction", "cluster", "rollout", "judge", "irpo", "serving", "llm_auction")
QUIET_ENV = {
    "LLM_AUCTION_QUIET": "1",  # read by cluster.ray_session: no worker output forwarded, no Ray Data bars
    "VLLM_LOGGING_LEVEL": "WARNING",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "WANDB_SILENT": "true",
}
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ProjectOnly(logging.Filter):
    """The project's INFO and above; other libraries' errors only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] in PROJECT_LOGGERS or record.levelno >= logging.ERROR


def configure_logging(verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    terminal = logging.StreamHandler(sys.stderr)
    if verbose:
        terminal.setFormatter(logging.Formatter(FILE_FORMAT))
    else:
        terminal.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        terminal.addFilter(ProjectOnly())
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
        logging.captureWarnings(True)  # libraries' Python warnings go to the log file, not the terminal
    root.handlers[:] = [terminal]


def log_to_file(path: Path) -> Path:
    """Also write every logger's INFO and above to `path` (appending: a resumed run continues its log).

    Unless --verbose, everything else this process and its children write to stdout and stderr goes
    there too (Ray's and vLLM's own handlers, C++ libraries, progress bars): the terminal handler keeps
    a copy of the real stderr and is then the only thing that reaches the terminal.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.environ.get("LLM_AUCTION_QUIET") == "1":
        terminal = os.fdopen(os.dup(2), "w", buffering=1)
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:
                handler.setStream(terminal)
        sys.stdout.flush()
        sys.stderr.flush()
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(target, 1)
        os.dup2(target, 2)
        os.close(target)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logging.getLogger().addHandler(handler)
    return path
