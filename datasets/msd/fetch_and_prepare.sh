#!/usr/bin/env bash
# Fetch (optionally) and prepare a Medical Segmentation Decathlon task in its documented layout.
#
#   datasets/msd/fetch_and_prepare.sh /path/to/Task04_Hippocampus.tar [DEST]
#   datasets/msd/fetch_and_prepare.sh Task04_Hippocampus [DEST]    # Task02_Heart, Task04_Hippocampus, Task09_Spleen
#   MSD_URL=https://.../Task05_Prostate.tar datasets/msd/fetch_and_prepare.sh Task05_Prostate [DEST]
#
# The archive is extracted into DEST (default: datasets/msd/data, ignored by git), the layout is checked
# (dataset.json, imagesTr/, labelsTr/, imagesTs/, every listed file present, counts, modality channels and label
# values of the first case) and a summary is printed. Running it again on an extracted task only re-checks it.
# The checks are org.gradsurgery.data.MsdDataset, the same code the training iterators use.
#
# Environment:
#   MSD_URL                 download URL of the .tar (default for Task02/04/09: MONAI's mirror, msd-for-monai on S3)
#   MSD_MD5                 expected MD5 of the archive (checked when set; default for Task02/04/09: MONAI's)
#   GRADSURGERY_CLASSPATH   classpath with dl4j-gradsurgery and its dependencies (default: built from this
#                           checkout with Maven: compiled classes + `mvn dependency:build-classpath`)
#   JAVA                    java executable (default: java)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
[[ $# -ge 1 && $# -le 2 && "$1" != "-h" && "$1" != "--help" ]] || { usage; [[ $# -eq 1 ]] && exit 0 || exit 2; }

src="$1"
dest="${2:-$here/data}"
mkdir -p "$dest"

if [[ ! -e "$src" ]]; then
  case "$src" in
    Task[0-9][0-9]_*) ;;
    *) echo "fetch_and_prepare: $src is neither a file/folder nor a task name like Task04_Hippocampus" >&2; exit 2 ;;
  esac
  # The three tasks this project documents: MONAI's public mirror of the Decathlon archives and their MD5s
  # (as in monai.apps.DecathlonDataset). MSD_URL / MSD_MD5 override them; other tasks need MSD_URL.
  mirror="https://msd-for-monai.s3-us-west-2.amazonaws.com"
  case "$src" in
    Task02_Heart)       known_md5=06ee59366e1e5124267b774dbd654057 ;;
    Task04_Hippocampus) known_md5=9d24dba78a72977dbd1d2e110310f31b ;;
    Task09_Spleen)      known_md5=410d4a301da4e5b2f6f86ec3ddba524e ;;
    *)                  known_md5="" ;;
  esac
  if [[ -z "${MSD_URL:-}" && -n "$known_md5" ]]; then
    MSD_URL="$mirror/$src.tar"
    MSD_MD5="${MSD_MD5:-$known_md5}"
  fi
  if [[ -z "${MSD_URL:-}" ]]; then
    echo "fetch_and_prepare: $src.tar not given and MSD_URL not set." >&2
    echo "  Download $src.tar from http://medicaldecathlon.com/ (CC-BY-SA 4.0) and pass its path," >&2
    echo "  or set MSD_URL to a mirror of that file." >&2
    exit 2
  fi
  archive="$dest/$src.tar"
  if [[ ! -f "$archive" ]]; then
    echo "downloading $MSD_URL -> $archive"
    curl -fL --retry 3 -o "$archive.part" "$MSD_URL"
    mv "$archive.part" "$archive"
  fi
  src="$archive"
fi

if [[ -f "$src" && -n "${MSD_MD5:-}" ]]; then
  got="$(md5sum "$src" | cut -d' ' -f1)"
  [[ "$got" == "$MSD_MD5" ]] || { echo "fetch_and_prepare: MD5 of $src is $got, expected $MSD_MD5" >&2; exit 1; }
  echo "MD5 ok: $got"
fi

cp="${GRADSURGERY_CLASSPATH:-}"
if [[ -z "$cp" ]]; then
  module="$repo/dl4j-gradsurgery"
  cpfile="$module/target/msd-classpath.txt"
  if [[ ! -d "$module/target/classes/org/gradsurgery/data" || ! -s "$cpfile" ]]; then
    echo "building the classpath with Maven (once) ..."
    (cd "$repo" && mvn -B -q -pl dl4j-gradsurgery compile dependency:build-classpath \
        -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=runtime) >&2
  fi
  cp="$module/target/classes:$(cat "$cpfile")"
fi
exec "${JAVA:-java}" -cp "$cp" org.gradsurgery.data.MsdDataset "$src" "$dest"
