#!/usr/bin/env bash
# submit-array.sh - submits a sweep as a job array of N parts and a merge
# job that runs after all of them (afterany: it reports missing parts).
#   deploy/slurm/submit-array.sh JOB OUT N [extra sbatch flags...]
set -euo pipefail
job=${1:?usage: submit-array.sh JOB OUT N [sbatch flags]}
out=${2:?usage: submit-array.sh JOB OUT N [sbatch flags]}
n=${3:?usage: submit-array.sh JOB OUT N [sbatch flags]}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
rove=${ROVE:-rove}
arr=$(sbatch --parsable --array=0-$((n - 1)) "$@" "$here/rove-array.sbatch" "$job" "$out")
parts=()
for ((i = 0; i < n; i++)); do parts+=("$out/part$i"); done
merge=$(sbatch --parsable --dependency=afterany:"$arr" --ntasks=1 \
  --job-name=rove-merge --output="rove-merge-%j.out" \
  --wrap="$rove merge --out $out/merged ${parts[*]}")
echo "array job $arr, merge job $merge; results in $out/merged"
