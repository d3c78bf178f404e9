# Sourced by test.sh and demo.sh, so both set up the same way: a virtual environment in .venv at
# the repo root with carbonline installed editable (plus the extras named in $1, e.g. "test"),
# and the repo root as the working directory. pip runs only when pyproject.toml changed since the
# last install, so a second run starts at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${1:-}"

# Debian ships venv's ensurepip separately (python3-venv); a minimal image lacks python3 itself.
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  else
    echo "python3 with venv support is missing: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
# No pip in .venv means an earlier run was interrupted while creating it: create it anew.
[ -x .venv/bin/python ] && [ -x .venv/bin/pip ] || python3 -m venv --clear .venv

# One stamp per extras set, holding the hash of the pyproject.toml it was installed from. An
# install with extras includes the plain one, so demo.sh after test.sh does not reinstall.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
stamp=".venv/.carbonline-installed-${EXTRAS:-base}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"
  echo "$want" | tee "$stamp" > .venv/.carbonline-installed-base
fi
