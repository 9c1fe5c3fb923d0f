#!/usr/bin/env bash
# ZeroVLM Table 2: usage: experiments/paper_table2.sh BACKBONE [more overrides, e.g. paths.coco_dir=... paths.whatsup_dir=...]
set -euo pipefail
backbone=${1:?usage: $0 BACKBONE [overrides]}
shift
source "$(dirname "$0")/find_zerovlm.sh"
exec "$zerovlm" -m experiment=paper_table2 "backbone=${backbone}" "$@"
