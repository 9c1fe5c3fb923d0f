"""A rank > 0 of a local DDP job: `python -m zerovlm.worker JOB_DIR` (started by distributed.JobDDPStrategy)."""

import sys
from pathlib import Path

from omegaconf import OmegaConf

from zerovlm.run import evaluate

if __name__ == "__main__":
    job_dir = Path(sys.argv[1])
    evaluate(OmegaConf.load(job_dir / "config.yaml"), job_dir)
