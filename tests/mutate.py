"""Mutation testing of the modules that carry the README's promises (make mutate).

    .venv/bin/python -m tests.mutate                 # every group
    .venv/bin/python -m tests.mutate store config    # some groups
    .venv/bin/python -m tests.mutate --report        # the last results, nothing run
    .venv/bin/python -m tests.mutate --list          # the groups, modules and tests
    .venv/bin/python -m tests.mutate --rerun-survivors cache  # after adding tests

mutmut 3 rewrites each function of a module into many small variants (a `<` made
`<=`, a constant changed, a call's argument dropped, ...), then runs the tests that call
that function against each variant. A variant no test notices (it "survived") is a
change to the code that the suite would let through.

Each group mutates a few modules and runs only the tests that are about them: the test
files listed here, and of those only the tests that call the mutated function (mutmut
records which ones do on a first, clean run). A group works in its own scratch copy of
the tree under build/mutate/<group>/, so groups never see each other's mutants and a
rerun continues where the last one stopped (mutmut tries again the mutants of a function
whose code changed; --fresh starts a group from scratch).
Test processes that the tests start (the console script, the compile worker) import the
mutated package too (PYTHONPATH).

Per module it prints killed / total and the kill rate; a mutant counts as killed when a
test failed, timed out or crashed under it, and as not killed when every test passed
("survived") or no listed test calls its function ("no tests"). The survivors are
listed in build/mutate/<group>/survivors.txt; `mutmut show NAME` in
build/mutate/<group>/ shows one.

The machine is shared: runs go under `nice -n 19`, with --jobs (default 2) workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.mutation_equivalence import changed_line, judged, only_sql_case
from tests.scratch import REPO, sync_tree, tree_files

BUILD = REPO / "build" / "mutate"
MUTMUT = Path(sys.executable).with_name("mutmut")
HOOKS = Path(__file__).resolve().parent / "mutation_hooks"
TARGET = 0.90

# mutmut's exit codes for a mutant (mutmut/stats.py): these mean the tests noticed it.
KILLED = {
    37: "caught by mypy",
    1: "killed",
    3: "killed",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "crashed",
    -9: "crashed",
}
NOT_KILLED = {0: "survived", 5: "no tests", 33: "no tests"}
EQUIVALENT = "equivalent"  # a survivor no test could tell apart (tests/mutation_equivalence)


@dataclass(frozen=True)
class Group:
    name: str
    modules: tuple[str, ...]  # under wasmcli/, without .py
    tests: tuple[str, ...]  # test files or node ids
    # Tests that cannot run under mutmut, with why (passed to pytest as --deselect).
    deselect: tuple[str, ...] = ()

    def module_paths(self) -> list[str]:
        return [f"wasmcli/{module}.py" for module in self.modules]


# Their multiprocessing "spawn" processes never start inside mutmut's forked workers.
SPAWN_POOL_TESTS = (
    "tests/test_store.py::test_concurrent_processes_share_one_home",
    "tests/test_registry_cli.py::test_remove_racing_register_never_leaves_a_name_without_its_file",
)

# Small groups: on two shared cores a mutant costs seconds to minutes (its tests run
# plugins), so each group runs the test files about its modules, in-process ones first.
GROUPS: tuple[Group, ...] = (
    Group(
        "config",
        ("config",),
        (
            "tests/test_settings.py",
            "tests/test_run_bad_input.py",
            "tests/test_cli_wording.py",
            "tests/test_trace_storage.py::test_max_trace_bytes_variable_applies_to_runs",
            "tests/test_run_cli.py::test_env_seed_and_timestamp_reach_the_plugin",
            "tests/test_run_cli.py::test_contradictory_and_bad_options_are_usage_errors",
            "tests/test_shell_contract.py::test_usage_errors_are_one_line_and_not_runs",
        ),
    ),
    Group(
        "errors",
        ("cli/errors",),
        (
            "tests/test_cli_wording.py",
            "tests/test_run_bad_input.py",
            "tests/test_hostile_plugins.py::test_a_lost_trace_is_not_cited",
            # The exit codes as a shell sees them (a process per test: the slow part).
            "tests/test_shell_contract.py",
        ),
        # `--show-completion bash` exits 1 in mutmut's clean run only (it passes under
        # pytest with the same environment); it exercises typer, not this module.
        deselect=(
            "tests/test_shell_contract.py::test_shell_completion_completes_commands_and_options",
        ),
    ),
    Group(
        "cache",
        ("store/cache", "store/blobs", "store/files"),
        (
            "tests/test_store.py",
            "tests/test_hostile_home.py",
            "tests/test_registry_cli.py",
            "tests/test_doctor.py",
            "tests/test_cache_and_isolation.py::test_second_run_loads_from_cache_and_damage_is_recompiled",
            "tests/test_cache_and_isolation.py::test_a_cached_module_holds_each_runs_own_memory_cap",
        ),
        deselect=SPAWN_POOL_TESTS,
    ),
    Group(
        "database",
        ("store/db", "store/migrations"),
        ("tests/test_store.py", "tests/test_hostile_home.py", "tests/test_trace_storage.py"),
        deselect=SPAWN_POOL_TESTS,
    ),
    Group(
        "registry",
        ("store/registry",),
        ("tests/test_store.py", "tests/test_registry_cli.py", "tests/test_hostile_home.py"),
        deselect=SPAWN_POOL_TESTS,
    ),
    Group(
        "traces",
        ("store/traces",),
        ("tests/test_store.py", "tests/test_trace_storage.py", "tests/test_traces_cli.py"),
        deselect=SPAWN_POOL_TESTS,
    ),
    Group(
        "runtime",
        ("runtime/output", "runtime/session"),
        (
            "tests/test_library.py",
            "tests/test_run_cli.py",
            # The output cap and UTF-8 check, the events a run records, hostile output.
            "tests/test_output_cap.py",
            "tests/test_run_bad_input.py",
            "tests/test_trace_events_doc.py",
            "tests/test_trace_samples.py",
            "tests/test_hostile_plugins.py",
        ),
    ),
    Group(
        "engines",
        ("engines/base", "engines/faults", "engines/epoch"),
        (
            "tests/test_engine_adapters.py",
            "tests/test_epoch_ticker.py",
            "tests/test_cache_and_isolation.py",
            "tests/test_hostile_plugins.py",
            "tests/test_library.py",
            # The failures' words (host.log ranges, traps, fuel, start functions, memory).
            "tests/test_engine_failures.py",
            "tests/test_run_bad_input.py",
            "tests/test_trace_samples.py",
            "tests/test_run_cli.py",
            # A start function's profile, kept however it fails.
            "tests/test_profile.py::test_a_trapping_start_function_keeps_its_profile",
            "tests/test_profile.py::test_a_start_function_out_of_fuel_sums_to_the_limit",
            "tests/test_profile.py::test_a_start_function_past_its_deadline_times_out_and_keeps_its_profile",
            "tests/test_profile.py::test_stacks_sum_to_the_fuel_of_the_same_run_unprofiled",
            # Signals during a wasm call (engines/epoch.py's deferred handlers).
            "tests/test_subprocess.py::test_ctrl_c_stops_a_running_plugin_and_keeps_its_trace",
            "tests/test_subprocess.py::test_sigterm_and_sighup_stop_the_plugin_and_keep_its_trace",
        ),
    ),
    Group(
        "memory",
        ("wasm/memory_limit",),
        (
            # The pass itself, then the cap as a run meets it (both engines' own checks).
            "tests/wasm/test_memory_limit.py",
            "tests/test_hostile_plugins.py::test_declaring_more_than_the_cap_is_refused_on_every_engine",
            "tests/test_hostile_plugins.py::test_table_growth_past_the_cap_returns_minus_one",
            "tests/test_hostile_plugins.py::test_memory_and_tables_share_one_cap",
            "tests/test_engine_failures.py::test_a_memory_above_the_limit_is_said_in_mb",
            "tests/test_engine_failures.py::test_input_and_env_may_fill_the_memory_to_its_last_byte",
            "tests/test_run_bad_input.py::test_memory_grow_loop_is_capped",
            "tests/test_cache_and_isolation.py::test_a_cached_module_holds_each_runs_own_memory_cap",
            "tests/test_run_cli.py::test_a_trap_at_the_memory_limit_says_the_plugin_probably_ran_out",
        ),
    ),
    Group(
        "fuel",
        ("wasm/metering", "wasm/fuel"),
        ("tests/wasm/test_fuel.py", "tests/wasm/test_startup.py", "tests/wasm/test_fuel_random.py"),
    ),
)


def prepare(group: Group, debug: bool = False, fresh: bool = False) -> Path:
    """The group's scratch copy, up to date, with mutmut's configuration for it."""
    work = BUILD / group.name
    work.mkdir(parents=True, exist_ok=True)
    sync_tree(work)
    if fresh:
        # mutmut itself forgets the results of a function whose code changed (it keeps a
        # hash per function) and copies the other modules afresh on each run: starting
        # again is only needed to measure everything on one tree.
        shutil.rmtree(work / "mutants", ignore_errors=True)
    # It must exist when mutmut starts: Python remembers that a PYTHONPATH entry was
    # missing at start-up and never looks there again (the tests package would not import).
    (work / "mutants").mkdir(exist_ok=True)
    top_level = sorted({Path(name).parts[0] for name in tree_files()} - {"wasmcli"})
    lines = [
        "[mutmut]",
        "source_paths = wasmcli",
        "only_mutate =",
        *(f"    {path}" for path in group.module_paths()),
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in group.tests),
        "pytest_add_cli_args =",
        *(f"    --deselect={test}" for test in group.deselect),
        "    -p",
        "    no:cacheprovider",
        # mutmut runs pytest several times in one process. pytest's faulthandler puts
        # back, at the end of a session, the signal handlers it found at its start,
        # which removes those that wasmtime installed during the session: its next trap
        # (SIGILL) would then kill the process instead of being a wasm trap.
        "    -p",
        "    no:faulthandler",
        # Functions reached in the processes a test starts count as reached by the test
        # (tests/mutation_hooks/).
        "    -p",
        "    mutate_plugin",
        "also_copy =",
        *(f"    {name}" for name in top_level),
        # Workers are forked from a server that has imported the tests but run nothing:
        # wasmtime's compiler threads do not survive a fork, so a worker forked from a
        # process that had compiled a module (mutmut's default) hangs on its first
        # compile, and every mutant whose tests run a plugin would be a false timeout.
        "process_isolation = forkserver",
        # A mutant times out at 5 times its tests' clean time (+5 s): loose enough for a
        # busy machine, and a hung mutant does not hold a worker for long.
        "timeout_multiplier = 5",
        "timeout_constant = 5",
        # A mutant that mypy (strict, as in `make lint`) refuses could never land: it is
        # caught without running a test (mypy checks every mutant in one pass).
        "type_check_command =",
        "    mypy",
        "    --output",
        "    json",
        # mutmut marks its own lines `type: ignore`; strict mypy would flag the unused ones.
        "    --no-warn-unused-ignores",
        # mutmut shows pytest's output only in debug mode (into mutmut.log).
        f"debug = {'true' if debug else 'false'}",
    ]
    (work / "setup.cfg").write_text("\n".join(lines) + "\n")
    return work


def not_killed(group: Group) -> list[str]:
    """The group's mutants that survived or had no tests in the last run, or that it did
    not reach (stopped early), but those known to be equivalent (no test can kill them:
    trying them again costs the whole clean run of their tests each). mutmut, given
    names, runs those mutants only."""
    names = []
    for path in group.module_paths():
        mutants_file = BUILD / group.name / "mutants" / path
        meta = mutants_file.with_name(mutants_file.name + ".meta")
        if meta.exists():
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            names += [
                name
                for name, code in codes.items()
                if (code is None or code in NOT_KILLED)
                and equivalent_because(mutants_file, name) is None
            ]
    return sorted(names)


def run_group(
    group: Group, jobs: int, debug: bool, rerun_survivors: bool = False, fresh: bool = False
) -> int:
    # mutmut keeps a mutant's result: after tests were added, only naming the survivors
    # tries them again (the new tests' reach is recorded first, incrementally).
    again = not_killed(group) if rerun_survivors else []
    work = prepare(group, debug, fresh)
    if not (work / "mutants" / "mutmut-stats.json").exists():
        again = []  # the group starts afresh: every mutant runs
    env = {
        **os.environ,
        # The mutated package first, in mutmut and in every process a test starts; then
        # the hooks that tell mutmut what those processes reached.
        "PYTHONPATH": os.pathsep.join([str(work / "mutants"), str(HOOKS)]),
        "MUTMUT_SUBPROCESS_HITS": str(work / "subprocess-hits"),
        "PATH": os.pathsep.join([str(MUTMUT.parent), os.environ.get("PATH", "")]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("WASMCLI_HOME", None)
    print(f"== {group.name}: {', '.join(group.module_paths())}", flush=True)
    done = subprocess.run(
        ["nice", "-n", "19", str(MUTMUT), "run", "--max-children", str(jobs), *again],
        cwd=work,
        env=env,
        stdout=open(work / "mutmut.log", "w"),
        stderr=subprocess.STDOUT,
    )
    if done.returncode != 0:
        print(f"mutmut failed (exit {done.returncode}): see {work / 'mutmut.log'}")
    return done.returncode


def results(group: Group) -> dict[str, Counter[str]]:
    """Per module, how many mutants ended how (the names of KILLED and NOT_KILLED, and
    EQUIVALENT for survivors that no test could tell apart: tests/mutation_equivalence)."""
    counts: dict[str, Counter[str]] = {}
    survivors, equivalents = [], []
    for path in group.module_paths():
        mutants_file = BUILD / group.name / "mutants" / path
        meta = mutants_file.with_name(mutants_file.name + ".meta")
        count: Counter[str] = Counter()
        if meta.exists():
            for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                outcome = KILLED.get(code) or NOT_KILLED.get(code)
                outcome = outcome or ("not checked" if code is None else f"exit {code}")
                if outcome == "survived":
                    why = equivalent_because(mutants_file, name)
                    if why is not None:
                        outcome = EQUIVALENT
                        equivalents.append(f"{name}  {why}")
                count[outcome] += 1
                if code not in KILLED and outcome != EQUIVALENT:
                    line = changed_line(mutants_file, name)
                    survivors.append(f"{name}  {outcome}  `{line}`")
        counts[path] = count
    for listing, lines in (("survivors.txt", survivors), ("equivalents.txt", equivalents)):
        (BUILD / group.name / listing).write_text("".join(f"{x}\n" for x in sorted(lines)))
    return counts


def equivalent_because(mutants_file: Path, name: str) -> str | None:
    if only_sql_case(mutants_file, name):
        return "only the letter case of SQL changes"
    why, stale = judged(mutants_file, name)
    if stale:
        print(f"stale equivalent: {stale}")
    return why


def report(groups: list[Group]) -> bool:
    """Print each module's score, killed / (mutants - equivalent ones); whether every
    module reaches the target."""
    kinds = sorted(set(KILLED.values()))
    print(f"{'module':30} {'total':>6} {'equiv':>6} {'killed':>7} {'score':>6}  how")
    all_met = True
    killed_sum = total_sum = equivalent_sum = 0
    for group in groups:
        for path, count in results(group).items():
            total = sum(count.values())
            equivalent = count[EQUIVALENT]
            killed = sum(count[kind] for kind in kinds)
            killed_sum += killed
            total_sum += total
            equivalent_sum += equivalent
            if total == 0:
                print(f"{path:30} {'-':>6} {'-':>6} {'-':>7} {'-':>6}  not run")
                all_met = False
                continue
            score = killed / (total - equivalent) if total > equivalent else 1.0
            all_met &= score >= TARGET
            how = ", ".join(f"{n} {what}" for what, n in sorted(count.items()))
            print(f"{path:30} {total:6} {equivalent:6} {killed:7} {score:6.1%}  {how}")
    if total_sum > equivalent_sum:
        score = killed_sum / (total_sum - equivalent_sum)
        print(f"{'all':30} {total_sum:6} {equivalent_sum:6} {killed_sum:7} {score:6.1%}")
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help="groups to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report", action="store_true", help="print the last results only")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--debug", action="store_true", help="pytest's output into mutmut.log")
    parser.add_argument(
        "--fresh", action="store_true", help="forget the last results and start again"
    )
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="try the last run's survivors again (after adding tests), and what it did not reach",
    )
    args = parser.parse_args(argv)
    unknown = set(args.groups) - {g.name for g in GROUPS}
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    chosen = [g for g in GROUPS if not args.groups or g.name in args.groups]
    if args.list:
        for group in chosen:
            print(f"{group.name}: {' '.join(group.module_paths())}")
            print(f"    tests: {' '.join(group.tests)}")
        return 0
    if not args.report:
        if not MUTMUT.exists():
            sys.exit(f"{MUTMUT} is missing: `make mutate` installs mutmut")
        for group in chosen:  # one group at a time: the machine is shared
            if run_group(group, args.jobs, args.debug, args.rerun_survivors, args.fresh) != 0:
                return 1
    met = report(chosen)
    print(
        f"mutate: every module at {TARGET:.0%} or more"
        if met
        else f"mutate: some modules below {TARGET:.0%}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
