# Sourced by demo.sh and test.sh: a virtual environment in .venv with carbonline installed.
# Re-installs only when pyproject.toml changed, so a second run starts at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${1:-}"

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "python3 venv support is missing: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.carbonline-installed"
want="$(sha256sum < pyproject.toml | cut -d' ' -f1) ${EXTRAS}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
  echo "$want" > "$stamp"
fi
