#!/usr/bin/env bash
# ZeroVLM Table 3 (11 view settings x 4 datasets): usage: experiments/paper_table3.sh BACKBONE [more overrides,
# e.g. generator=zero123 paths.coco_dir=... paths.whatsup_dir=...]
set -euo pipefail
backbone=${1:?usage: $0 BACKBONE [overrides]}
shift
source "$(dirname "$0")/find_zerovlm.sh"
exec "$zerovlm" -m experiment=paper_table3 "backbone=${backbone}" "$@"
