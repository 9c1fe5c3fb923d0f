# Sourced by the launchers: sets $zerovlm to the zerovlm console script, so a launcher runs from the repository
# root (or anywhere) with or without an activated environment: the one on PATH first (an activated environment,
# e.g. with your own CUDA build of torch), else the repository's .venv (`make install`).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if zerovlm=$(type -P zerovlm) && [ -f "$zerovlm" ]; then
  :
elif [ -x "$root/.venv/bin/zerovlm" ]; then
  zerovlm=$root/.venv/bin/zerovlm
else
  echo "zerovlm is not installed: run 'make install' in $root, or activate the environment you installed it in" >&2
  exit 1
fi
