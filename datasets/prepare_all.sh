#!/usr/bin/env bash
# Rebuild every prepared dataset from the Debian packages (or from one directory per set) and check
# that the result is byte-identical to the committed files.
#   datasets/prepare_all.sh                 # sources from the Debian package paths
#   DATA=/work/shared/data datasets/prepare_all.sh   # sources from $DATA/{colin27,inia19,itk-kmeans,itk-cthead}
# Needs python3-nibabel and python3-numpy; PYTHON selects the interpreter (default: the first of
# python3, /usr/bin/python3 that can import nibabel).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-}"
if [[ -z "$py" ]]; then
  for cand in python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import nibabel, numpy' 2>/dev/null; then py="$cand"; break; fi
  done
fi
[[ -n "$py" ]] || { echo "prepare_all: no python3 with nibabel and numpy (apt-get install -y python3-nibabel python3-numpy)" >&2; exit 1; }
src() { if [[ -n "${DATA:-}" ]]; then echo "$DATA/$1"; else echo "$2"; fi; }
"$py" "$here/colin27-deepgm/prepare.py" "$(src colin27 /usr/share/mricron/templates)"
"$py" "$here/inia19/prepare.py" "$(src inia19 /usr/share/mricron/templates)"
"$py" "$here/itk-kmeans/prepare.py" "$(src itk-kmeans /usr/share/doc/insighttoolkit4-examples/examples/Data)"
if [[ -n "${DATA:-}" || -n "${ITK_SOURCE:-}" ]]; then
  "$py" "$here/itk-cthead/prepare.py" "${ITK_SOURCE:-$DATA/itk-cthead}"
else
  echo "prepare_all: skipping itk-cthead (set ITK_SOURCE to the unpacked insighttoolkit4 source tree)"
fi
# Reproducibility: in a git checkout the rebuilt files must equal the committed ones; each SHA256SUMS lists the
# hashes of its set's generated files, so comparing those is enough.
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1 && git -C "$here" ls-files --error-unmatch colin27-deepgm/SHA256SUMS >/dev/null 2>&1; then
  git -C "$here" diff --exit-code --stat -- '*/SHA256SUMS' && echo "prepare_all: rebuilt files are identical to the committed ones"
fi
