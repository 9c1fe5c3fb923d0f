"""The single entry point: ``zerovlm [overrides]`` / ``python -m zerovlm``.

Composing and printing the config (``--cfg job``) imports no torch; the evaluation is imported inside the task.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from zerovlm.config import register_configs

_PACKAGED = Path(__file__).parent / "conf"  # a wheel carries conf/ inside the package
CONFIG_PATH = str(_PACKAGED if _PACKAGED.is_dir() else Path(__file__).parent.parent / "conf")

register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="config")
def run(cfg: DictConfig) -> float | None:
    from zerovlm.run import run_job

    return run_job(cfg)


def main() -> None:
    """Hydra's entry point; a sweep that ends with a failed job still prints its table, then exits non-zero."""
    from zerovlm.results.report import report_unfinished_sweep

    try:
        run()
    finally:
        report_unfinished_sweep()


if __name__ == "__main__":
    main()
