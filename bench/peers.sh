# Sourced by the bench scripts: the one place that pins every peer they install, and prints the
# versions that were measured (the venv is shared and reused; pins make reruns comparable).
# shellcheck shell=bash
PIN_CONNECTORX=connectorx==0.4.6
PIN_PYARROW=pyarrow==26.0.1
PIN_SLING=sling-linux-amd64==1.4.11
PIN_DUCKDB_CLI=1.5.5
VENV=target/bench-venv

# bench_venv PKG...: the bench venv with exactly these pinned packages.
bench_venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$@" >/dev/null
}

# peer_versions PKG...: "name version" of each installed package, comma-separated.
peer_versions() {
  local out=() p
  for p in "$@"; do
    out+=("${p%%==*} $("$VENV/bin/pip" show "${p%%==*}" 2>/dev/null | awk '/^Version:/{print $2}')")
  done
  (IFS=,; echo "${out[*]}" | sed 's/,/, /g')
}
