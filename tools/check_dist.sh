#!/usr/bin/env bash
# Build the sdist and the wheel, check their metadata, install the wheel into a clean
# venv and import it. Fails on any deprecation warning in the build or install output
# (e.g. setuptools' "`project.license` as a TOML table is deprecated").
#   tools/check_dist.sh                 # uses .venv/bin/python (make test runs it)
#   PYTHON=python3 tools/check_dist.sh  # another interpreter with build and twine
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
started=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log="$work/output.txt"

fail() { echo "check_dist: $1" >&2; cat "$log" >&2; exit 1; }

"$PYTHON" -m build --outdir "$work/dist" . >"$log" 2>&1 || fail "python -m build failed"
sdists=("$work"/dist/*.tar.gz)
wheels=("$work"/dist/*.whl)
[ "${#sdists[@]}" -eq 1 ] && [ "${#wheels[@]}" -eq 1 ] || fail "expected one sdist and one wheel"
"$PYTHON" -m twine check --strict "${sdists[0]}" "${wheels[0]}" >>"$log" 2>&1 \
  || fail "twine check failed"

# a clean venv (no pip of its own: the project venv's pip installs into it)
"$PYTHON" -m venv --without-pip "$work/venv"
"$PYTHON" -m pip --python "$work/venv/bin/python" install --quiet "${wheels[0]}" \
  >>"$log" 2>&1 || fail "installing the wheel failed"
expected=$("$PYTHON" -c 'import ast, pathlib; print(ast.literal_eval(pathlib.Path("langchain_vlmrun/_version.py").read_text().split("=", 1)[1].strip()))')
installed=$(cd "$work" && "$work/venv/bin/python" -W error::DeprecationWarning:langchain_vlmrun \
  -c 'import langchain_vlmrun; print(langchain_vlmrun.__version__)' 2>>"$log") \
  || fail "importing the installed wheel failed"
[ "$installed" = "$expected" ] || fail "installed version $installed, expected $expected"
"$work/venv/bin/python" - "${wheels[0]}" <<'PY' >>"$log" 2>&1 || fail "wheel contents"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert "langchain_vlmrun/py.typed" in names, "py.typed missing"
assert any(n.endswith("licenses/LICENSE") for n in names), "LICENSE missing"
assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names), names
PY
if grep -in "deprecat" "$log" | grep -v "Location 'file://"; then
  fail "deprecation warnings in the build or install output (above)"
fi
echo "check_dist: $(basename "${sdists[0]}") and $(basename "${wheels[0]}") built, checked" \
  "(twine), installed in a clean venv and imported (version $installed) in $((SECONDS - started)) s"
