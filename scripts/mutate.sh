#!/usr/bin/env bash
# Mutation testing for developers (not run by CI): applies each small patch in scripts/mutants/ to include/, one at
# a time, in a scratch copy of the tree, rebuilds the test binary, runs it, and reports which patches the tests kill
# and which survive. The real working tree is never modified.
#
#   scripts/mutate.sh [options] [MUTANT ...]
#
# MUTANT: names (01-etkf-inflation-squared) or paths of patch files; by default every scripts/mutants/*.patch.
# Options:
#   -j N                build jobs (default 1)
#   -B, --build-dir D   work directory (default build/mutate): D/src is the scratch copy, D/build the CMake build,
#                       D/logs each mutant's build and test output, D/report.md the table. Reused from run to run,
#                       so a rebuild recompiles only the translation units a patch touches.
#   --from REV          copy the tree of commit REV (default HEAD)
#   --working-tree      copy the working tree instead (tracked and untracked files that git does not ignore)
#   --quick             run only each mutant's own tests (its "# tests:" line, doctest arguments) instead of the
#                       whole binary
#   --timeout S         limit on one run of the test binary, in seconds (default 900)
#   --no-baseline       skip the unmutated build and run (by default they run first and must pass)
#   --baseline-only     build and run the unmutated copy, and stop
#   -l, --list          list the mutants and exit
#
# A mutant file is a unified diff against the repository root (as `git diff` writes it) after comment lines:
#   # what the patch does, in one line
#   # tests: -sf=*test_da.cpp
# A patch that no longer applies is reported as "stale" (the code it mutates has moved: update the patch), one whose
# tree does not compile as "no-build"; neither counts in the kill rate (killed / (killed + survived)).
# Exit status: 0 when every applicable mutant is killed and none is stale, 1 otherwise, 2 on a usage or setup error.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=1
work="$root/build/mutate"
from=HEAD
working_tree=0
quick=0
timeout_s=900
baseline=1
baseline_only=0
list=0
mutants=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() {
  echo "mutate.sh: $*" >&2
  exit 2
}

while (($#)); do
  case "$1" in
    -j) jobs=${2:?-j needs a number}; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    -B | --build-dir) work=${2:?$1 needs a directory}; shift 2 ;;
    --from) from=${2:?--from needs a revision}; shift 2 ;;
    --working-tree) working_tree=1; shift ;;
    --quick) quick=1; shift ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --no-baseline) baseline=0; shift ;;
    --baseline-only) baseline_only=1; shift ;;
    -l | --list) list=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) mutants+=("$1"); shift ;;
  esac
done
[[ $jobs =~ ^[0-9]+$ && $jobs -ge 1 ]] || die "-j needs a positive number, got '$jobs'"
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -ge 1 ]] || die "--timeout needs a positive number, got '$timeout_s'"

# --- the mutants --------------------------------------------------------------------------------------------------
patches=()
if ((${#mutants[@]} == 0)); then
  shopt -s nullglob
  patches=("$root"/scripts/mutants/*.patch)
  shopt -u nullglob
  ((${#patches[@]})) || die "no patches in scripts/mutants/"
else
  for m in "${mutants[@]}"; do
    if [[ -f $m ]]; then
      patches+=("$(cd "$(dirname "$m")" && pwd)/$(basename "$m")")
    elif [[ -f $root/scripts/mutants/$m.patch ]]; then
      patches+=("$root/scripts/mutants/$m.patch")
    elif [[ -f $root/scripts/mutants/$m ]]; then
      patches+=("$root/scripts/mutants/$m")
    else
      die "no mutant '$m' (a path, or a name in scripts/mutants/)"
    fi
  done
fi
name_of() { basename "$1" .patch; }
what_of() { sed -n '1s/^# *//p' "$1"; }
tests_of() { sed -n 's/^# tests: *//p' "$1" | head -n 1; }

if ((list)); then
  for p in "${patches[@]}"; do printf '%-36s %s\n' "$(name_of "$p")" "$(what_of "$p")"; done
  exit 0
fi

# --- the scratch copy -----------------------------------------------------------------------------------------------
mkdir -p "$work"
work=$(cd "$work" && pwd)
# Exported afresh into src.new, then copied into src file by file where the content differs, so that files nothing
# changed keep their timestamps and the build stays incremental.
src="$work/src"
build="$work/build"
logs="$work/logs"
mkdir -p "$src" "$logs"
rm -rf "$work/src.new"
mkdir -p "$work/src.new"
if ((working_tree)); then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -f $f ]] && printf '%s\0' "$f"
  done | tar --null -T - -cf -) | tar -xf - -C "$work/src.new"
  source_label="the working tree at $(git -C "$root" rev-parse --short HEAD) with its uncommitted changes"
else
  commit=$(git -C "$root" rev-parse --verify "$from^{commit}") || die "no commit '$from'"
  git -C "$root" archive "$commit" | tar -xf - -C "$work/src.new"
  source_label="commit $(git -C "$root" rev-parse --short "$commit")"
fi
(cd "$work/src.new" && find . -type f -print0) | while IFS= read -r -d '' f; do
  if ! cmp -s "$work/src.new/$f" "$src/$f"; then
    mkdir -p "$(dirname "$src/$f")"
    cp "$work/src.new/$f" "$src/$f"
  fi
done
(cd "$src" && find . -type f -print0) | while IFS= read -r -d '' f; do
  [[ -e $work/src.new/$f ]] || rm -f "$src/$f"
done
rm -rf "$work/src.new"

# git apply inside src: the ceiling keeps git from taking src for part of an enclosing repository (build/ is inside
# this one), so paths are relative to src.
in_src() { (cd "$src" && GIT_CEILING_DIRECTORIES="$work" "$@"); }

# --- build and run --------------------------------------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  echo "mutate.sh: configuring $build"
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTRACTOR_BUILD_EXAMPLES=OFF \
    -DATTRACTOR_BUILD_BENCHMARKS=OFF -DATTRACTOR_CUDA=OFF -DATTRACTOR_WARNINGS_AS_ERRORS=OFF >"$logs/configure.log" 2>&1 ||
    die "configuring failed: see $logs/configure.log"
fi
binary="$build/tests/attractor_tests"

build_tests() { cmake --build "$build" -j "$jobs" --target attractor_tests >"$1" 2>&1; }

# run_tests LOG [doctest arguments...]: 0 passed, 1 failed, 124 timed out.
run_tests() {
  local log=$1
  shift
  local rc=0
  timeout --kill-after=30 "$timeout_s" "$binary" "$@" >"$log" 2>&1 || rc=$?
  if ((rc == 0)); then return 0; fi
  if ((rc == 124 || rc == 137)); then return 124; fi
  return 1
}

# The failing test cases' count from doctest's summary line (or that the binary stopped without one), and the names
# of the first two that failed.
failures_of() {
  local n names
  n=$(sed -n 's/^\[doctest\] test cases:.*| *\([0-9]*\) failed.*/\1/p' "$1" | tail -n 1)
  names=$(awk '/^TEST CASE: / { tc = substr($0, 13) }
               /: (FATAL )?ERROR: / { if (!(tc in seen)) { seen[tc] = 1; k++; if (k <= 2) printf "%s\"%s\"", (k > 1 ? ", " : ""), tc } }
               END { if (k > 2) printf " and %d more", k - 2 }' "$1")
  if [[ -n $n ]]; then echo "$n failed: $names"; else echo "stopped without a summary: $names"; fi
}

elapsed() { echo $(($(date +%s) - $1)); }

echo "mutate.sh: $source_label, ${#patches[@]} mutants, -j $jobs, $([[ $quick == 1 ]] && echo "each mutant's own tests" || echo "the whole test binary")"
echo "mutate.sh: work directory $work"

if ((baseline)); then
  t0=$(date +%s)
  echo "mutate.sh: baseline: building"
  build_tests "$logs/baseline.build.log" || die "the unmutated tree does not build: see $logs/baseline.build.log"
  echo "mutate.sh: baseline: built in $(elapsed "$t0") s; running"
  t0=$(date +%s)
  run_tests "$logs/baseline.test.log" || die "the unmutated tree fails its tests: see $logs/baseline.test.log"
  echo "mutate.sh: baseline: passed in $(elapsed "$t0") s"
fi
((baseline_only)) && exit 0

results=()
sep=$'\x1f' # between the fields of a result
killed=0
survived=0
stale=0
nobuild=0
for p in "${patches[@]}"; do
  name=$(name_of "$p")
  if ! in_src git apply --check "$p" >"$logs/$name.apply.log" 2>&1; then
    echo "mutate.sh: $name: STALE (does not apply: see $logs/$name.apply.log)"
    results+=("$name${sep}stale${sep}does not apply to $source_label${sep}-${sep}-")
    stale=$((stale + 1))
    continue
  fi
  in_src git apply "$p"
  t0=$(date +%s)
  if ! build_tests "$logs/$name.build.log"; then
    build_s=$(elapsed "$t0")
    echo "mutate.sh: $name: NO-BUILD (see $logs/$name.build.log)"
    results+=("$name${sep}no-build${sep}does not compile${sep}$build_s${sep}-")
    nobuild=$((nobuild + 1))
  else
    build_s=$(elapsed "$t0")
    t0=$(date +%s)
    args=()
    if ((quick)); then read -r -a args <<<"$(tests_of "$p")"; fi
    rc=0
    run_tests "$logs/$name.test.log" "${args[@]}" || rc=$?
    test_s=$(elapsed "$t0")
    case $rc in
      0)
        echo "mutate.sh: $name: SURVIVED (built in $build_s s, tests passed in $test_s s)"
        results+=("$name${sep}survived${sep}every test passed${sep}$build_s${sep}$test_s")
        survived=$((survived + 1))
        ;;
      124)
        echo "mutate.sh: $name: killed (the tests timed out after $timeout_s s)"
        results+=("$name${sep}killed${sep}timed out${sep}$build_s${sep}$test_s")
        killed=$((killed + 1))
        ;;
      *)
        detail=$(failures_of "$logs/$name.test.log")
        echo "mutate.sh: $name: killed ($detail; built in $build_s s, ran $test_s s)"
        results+=("$name${sep}killed${sep}$detail${sep}$build_s${sep}$test_s")
        killed=$((killed + 1))
        ;;
    esac
  fi
  in_src git apply -R "$p" || die "could not revert $name in $src: delete $work/src and run again"
done

# --- report ---------------------------------------------------------------------------------------------------------
applicable=$((killed + survived))
rate="n/a"
((applicable > 0)) && rate="$killed/$applicable ($((100 * killed / applicable))%)"
{
  echo "Mutation run of $(date -u '+%Y-%m-%d %H:%M UTC'): $source_label; $([[ $quick == 1 ]] && echo "each mutant's own tests" || echo "the whole test binary")."
  echo
  echo "| mutant | what | result | detail | build s | test s |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for r in "${results[@]}"; do
    IFS=$sep read -r name result detail build_s test_s <<<"$r"
    p=""
    for q in "${patches[@]}"; do [[ $(name_of "$q") == "$name" ]] && p=$q; done
    echo "| $name | $(what_of "$p") | $result | $detail | $build_s | $test_s |"
  done
  echo
  echo "Kill rate: $rate; stale: $stale; no-build: $nobuild."
} >"$work/report.md"
echo
cat "$work/report.md"
((survived == 0 && stale == 0))
