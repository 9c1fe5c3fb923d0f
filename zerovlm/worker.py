"""A rank > 0 of a local DDP job: `python -m zerovlm.worker JOB_DIR` (started by distributed.JobDDPStrategy).

Its log goes to the job's zerovlm.log beside rank 0's, so a failure on this rank is found where the job's is."""

import logging
import sys
from pathlib import Path

from omegaconf import OmegaConf

from zerovlm.run import evaluate, process_rank

log = logging.getLogger("zerovlm.worker")

if __name__ == "__main__":
    job_dir = Path(sys.argv[1])
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s",
                        handlers=[logging.FileHandler(job_dir / "zerovlm.log"), logging.StreamHandler()])
    try:
        evaluate(OmegaConf.load(job_dir / "config.yaml"), job_dir)
    except BaseException:
        log.exception("%s: the job failed on rank %s", job_dir, process_rank())
        raise
