"""Surviving mutants judged equivalent: no user could tell them from the code.

Each entry names a mutant as mutmut does, the line it changes (as `ast.unparse` writes
it: `tests/mutation_equivalence.changed_line`, which `make mutate` checks, since
mutmut's numbers shift when a function changes) and why no test can tell it apart.
`make mutate` leaves these out of a module's total; a stale entry is reported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Equivalent:
    line: str
    why: str


_ROW_KEYS = "sqlite3.Row looks its keys up without regard to case"
_FROM_OPEN_DATABASE = (
    "every connection the store is given comes from `open_database`, which sets "
    "`read_only` and `home`: the default of `getattr` is never used"
)

_PASS_NAME = (
    "a pass's name only keeps compiled artifacts of different passes apart in the cache "
    "key: any name no other pass uses does that (artifacts cached under the old name are "
    "compiled again, as after any upgrade)"
)

_THREAD_NAME = "the ticker thread's name is shown only in a debugger's list of threads"
_SAME_NANOSECOND = (
    "`>` and `>=` differ only when the clock reads the deadline to the nanosecond, which "
    "no run can aim at: the next reading stops it either way"
)

# wasm/metering: an Insert is (position, kind, seq, value, 64-bit flag).
_UNUSED_FIELD = (
    "a field of an Insert that is never read: `seq` only breaks ties between inserts of one "
    "kind at one position, and one instruction makes at most one of each kind there; "
    "`meter_function` reads the value of charges and events only, and the 64-bit flag of "
    "the run-time-sized events only (not of a load, a check, a charge or a save)"
)
_NO_CONSTANT_YET = (
    "the mark for 'no constant seen yet' need only be no instruction's position: a "
    "run-time-sized operation needs operands before it, so none starts at byte 1 of a body "
    "(-1, 1 and -2 all work)"
)
_OPERAND_TYPE = (
    "the constant right before a run-time-sized operation is its length or delta operand, "
    "so in a valid module (an engine validates a plugin before any pass) it is always of "
    "the operand's type: the check for another type never fails"
)
_MASK_32 = (
    "an i32 constant is below 2**31 or negative: masked to 32 or to 64 bits it is the same "
    "small number, or above every folding limit either way"
)
_DEAD_OR_ZERO_CHARGE = (
    "the mutant also charges a dead block (its charge sits in code that never runs) and a "
    "block of cost 0 (a charge of 0 changes nothing)"
)
_FAST_PATH = (
    "the empty block type 0x40 then takes the general path, which steps over its one byte "
    "just as the shortcut does"
)
_EXTRA_SAVE = (
    "saves the count to the global where no return follows (a branch, a trap) as well: the "
    "global is read only on entry and after a call, and a save comes before every call "
    "and return, so the extra value is overwritten before anything reads it"
)
_SPLIT_BLOCK = (
    "ends the basic block after an instruction that charges nothing at run time: the block's "
    "cost is charged in two parts, both before the same checks (fuel is checked only at "
    "entries, loop headers, calls and run-time-sized charges), so every run consumes and "
    "stops alike (after a trap the fuel is unknown on both engines)"
)

EQUIVALENTS: dict[str, Equivalent] = {
    # -- config
    "wasmcli.config.x_env_flag__mutmut_6": Equivalent(
        "if raw is None or raw.strip() == 'XXXX':",
        "the one flag, WASMCLI_TRACE, is on by default, and an empty value is on either way",
    ),
    "wasmcli.config.x__env_int__mutmut_13": Equivalent(
        "value = int(raw.strip().replace('XX_XX', ''))",
        "`int()` takes `1_000` itself",
    ),
    "wasmcli.config.xǁBoundǁcheck__mutmut_6": Equivalent(
        "limit = f'at least {self.minimum}' if value <= self.minimum else f'at most "
        "{self.shown_max}'",
        "a value equal to the minimum is in bounds and returned before this line",
    ),
    "wasmcli.config.xǁRunConfigǁfrom_env__mutmut_77": Equivalent(
        "readers: dict[str, Callable[[], object]] = {'timeout_ms': lambda: _env_int('WASM"
        "CLI_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, BOUNDS['timeout_ms']), 'memory_limit_mb': l"
        "ambda: _env_int('WASMCLI_MEMORY_LIMIT_MB', DEFAULT_MEMORY_LIMIT_MB, BOUNDS['memo"
        "ry_limit_mb']), 'fuel': lambda: _env_int('WASMCLI_FUEL', None, BOUNDS['fuel']), "
        "'max_output': lambda: _env_size('WASMCLI_MAX_OUTPUT', DEFAULT_MAX_OUTPUT, BOUNDS"
        "['max_output']), 'max_call_depth': lambda: _env_int('WASMCLI_MAX_CALL_DEPTH', DE"
        "FAULT_MAX_CALL_DEPTH, BOUNDS['max_call_depth']), 'engine': lambda: (os.environ.g"
        "et('WASMCLI_ENGINE') or 'AUTO').strip().lower()}",
        "the default is lowered with the value: 'AUTO' reads as 'auto'",
    ),
    # -- store/cache
    **{
        f"wasmcli.store.cache.x_parse_artifact__mutmut_{n}": Equivalent(
            line,
            "without the 4 KiB bound, a damaged file's header is searched further: a longer "
            "'header' is not JSON, or still has to name this module, configuration and "
            "payload, so only the work differs",
        )
        for n, line in (
            (6, "end = raw.find(b'\\n', len(MAGIC), None)"),
            (9, "end = raw.find(b'\\n', len(MAGIC))"),
        )
    },
    **{
        f"wasmcli.store.cache.x_parse_artifact__mutmut_{n}": Equivalent(
            line, "the search starts after the magic, so `end` is never 0"
        )
        for n, line in ((13, "if end <= 0:"), (14, "if end < 1:"))
    },
    **{
        f"wasmcli.store.cache.xǁArtifactHeaderǁencode__mutmut_{n}": Equivalent(
            line,
            "the order of the header's keys and the codec's spelling change nothing that is read",
        )
        for n, line in (
            (16, "return MAGIC + json.dumps(fields).encode('utf-8') + b'\\n'"),
            (17, "return MAGIC + json.dumps(fields, sort_keys=False).encode('utf-8') + b'\\n'"),
            (19, "return MAGIC + json.dumps(fields, sort_keys=True).encode('UTF-8') + b'\\n'"),
        )
    },
    **{
        f"wasmcli.store.cache.xǁArtifactCacheǁ_read_trusted__mutmut_{n}": Equivalent(
            line, "only whether there is a reason counts here, not its words"
        )
        for n, line in (
            (6, "if untrusted_reason(os.stat(self.root), 'XXthe cache folderXX') is not None:"),
            (7, "if untrusted_reason(os.stat(self.root), 'THE CACHE FOLDER') is not None:"),
            (
                31,
                "if not stat.S_ISREG(info.st_mode) or untrusted_reason(info, 'XXthe artifactXX'):",
            ),
            (32, "if not stat.S_ISREG(info.st_mode) or untrusted_reason(info, 'THE ARTIFACT'):"),
        )
    },
    **{
        f"wasmcli.store.cache.xǁArtifactCacheǁ_make_folder__mutmut_{n}": Equivalent(
            line,
            "a chmod to 0700 of the folder `make_private_dir` has just made 0700 and this "
            "user's: it differs only for a folder of another user, which `_read_trusted` "
            "refuses anyway",
        )
        for n, line in (
            (5, "if info.st_uid == os.geteuid() or info.st_mode & _OTHERS_WRITE:"),
            (7, "if info.st_uid == os.geteuid() and info.st_mode | _OTHERS_WRITE:"),
        )
    },
    # -- store/files
    "wasmcli.store.files.x_make_private_dir__mutmut_1": Equivalent(
        "if path.exists() and path.is_symlink():",
        "a file there fails `os.mkdir` with the same NotADirectoryError",
    ),
    **{
        f"wasmcli.store.files.x_make_private_dir__mutmut_{n}": Equivalent(
            line, "`home_error` words a NotADirectoryError by its type, not its text"
        )
        for n, line in (
            (2, "raise NotADirectoryError(None)"),
            (14, "raise NotADirectoryError(None) from None"),
        )
    },
    "wasmcli.store.files.x_make_private_dir__mutmut_12": Equivalent(
        "os.mkdir(path)",
        "the chmod right after sets 0700: only the instant between the two differs",
    ),
    # -- cli/errors
    "wasmcli.cli.errors.x_is_closed_pipe__mutmut_1": Equivalent(
        "return isinstance(exc, BrokenPipeError) and (isinstance(exc, OSError) and "
        "exc.errno == errno.EPIPE)",
        "Python raises every EPIPE as a BrokenPipeError, with that errno: `or` and `and` "
        "agree on every error the OS reports",
    ),
    "wasmcli.cli.errors.x_usage_message__mutmut_8": Equivalent(
        "if text[1:3].islower():",
        "click's messages have lower-case second and third letters alike ('No such "
        "option', 'Missing argument', 'Got unexpected ...')",
    ),
    # -- store/db
    **{
        f"wasmcli.store.db.x_is_read_only__mutmut_{n}": Equivalent(
            f"return bool(getattr(conn, 'read_only'{default}))", _FROM_OPEN_DATABASE
        )
        for n, default in ((4, ", None"), (7, ""), (10, ", True"))
    },
    **{
        f"wasmcli.store.db.xǁTransactionǁ__enter____mutmut_{n}": Equivalent(
            f"home = getattr(self.conn, 'home'{default})", _FROM_OPEN_DATABASE
        )
        for n, default in ((5, ", None"), (8, ""), (11, ", 'XXXX'"))
    },
    **{
        f"wasmcli.store.db.x_database_error__mutmut_{n}": Equivalent(
            f"elif 'locked' in lowered or '{busy}' in lowered:",
            "SQLite words a busy database 'database is locked' (SQLITE_BUSY) or 'database "
            "table is locked' (SQLITE_LOCKED): 'busy' is a second spelling no known message "
            "uses alone",
        )
        for n, busy in ((37, "XXbusyXX"), (38, "BUSY"))
    },
    "wasmcli.store.db.x__connect__mutmut_20": Equivalent(
        "has_wal = wal.exists() and wal.stat().st_size > 1",
        "a WAL that holds anything starts with its 32-byte header: never 1 byte long",
    ),
    **{
        f"wasmcli.store.db.x__connect__mutmut_{n}": Equivalent(
            f"query = '{mode}' if has_wal else 'immutable=1'",
            "SQLite ignores a query parameter it does not know, and opens a file it cannot "
            "write read-only by itself (its WAL too, with the -shm file the writer left): "
            "`mode=ro` only says so up front (test_a_read_only_image_of_a_home_in_use...)",
        )
        for n, mode in ((24, "XXmode=roXX"), (25, "MODE=RO"))
    },
    **{
        f"wasmcli.store.db.x__connect__mutmut_{n}": Equivalent(
            "options: dict[str, Any] = {'timeout': "
            f"{timeout}, 'isolation_level': None, 'factory': StoreConnection}}",
            "`open_database` sets `PRAGMA busy_timeout` right after connecting, before any "
            "statement that could wait for a lock",
        )
        for n, timeout in ((4, "BUSY_TIMEOUT_MS * 1000"), (5, "BUSY_TIMEOUT_MS / 1001"))
    },
    "wasmcli.store.db.x__create_private_file__mutmut_7": Equivalent(
        "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)",
        "the fchmod to 0600 right after: only the instant between the two differs",
    ),
    "wasmcli.store.db.x__take_opened_ahead__mutmut_12": Equivalent(
        "same = None", "None is as false as False: the connection is not taken either way"
    ),
    # -- store/migrations
    "wasmcli.store.migrations.x_migrate__mutmut_19": Equivalent(
        "conn.execute('INSERT INTO _migrations (name, applied_at) VALUES (?, ?)', "
        "(migration.__name__, datetime.now(None).isoformat()))",
        "`applied_at` is written for a person reading the database; wasmcli never reads it",
    ),
    # -- store/traces
    **{
        f"wasmcli.store.traces.xǁTraceFilterǁwhere__mutmut_{n}": Equivalent(
            "for column, value in (" + ", ".join(f"('{c}', self.{c.lower()})" for c in cols) + "):",
            "a column name in another case, which SQLite reads without regard to case",
        )
        for n, cols in (
            (4, ("BINARY_ID", "binary_name", "batch_id")),
            (6, ("binary_id", "BINARY_NAME", "batch_id")),
            (8, ("binary_id", "binary_name", "BATCH_ID")),
        )
    },
    "wasmcli.store.traces.xǁTraceStoreǁiter__mutmut_10": Equivalent(
        "columns = _SUMMARY + (', EVENTS_JSON' if with_events else '')",
        "a column name in another case, which SQLite reads without regard to case",
    ),
    "wasmcli.store.traces.xǁTraceStoreǁget__mutmut_4": Equivalent(
        "row = None",
        "without the exact lookup, the prefix search finds a full id (all ids have one "
        "length, so a full id is the prefix of no other): only the query differs",
    ),
    "wasmcli.store.traces.xǁTraceStoreǁiter__mutmut_16": Equivalent(
        "sql = f'SELECT {columns} FROM traces' + (_WITH_EVENTS if with_events or True else "
        "'') + where",
        "the join with the events is made even when they are not read: the same rows, only slower",
    ),
    **{
        f"wasmcli.store.traces.xǁTraceStoreǁlatest__mutmut_{n}": Equivalent(
            f"rows = self.list({query})",
            "more traces read than the newest one, which is still the first: the same "
            "answer, only slower",
        )
        for n, query in ((2, "None"), (3, "TraceFilter(limit=None)"), (4, "TraceFilter(limit=2)"))
    },
    "wasmcli.store.traces.xǁTraceStoreǁ_by_prefix__mutmut_2": Equivalent(
        "if not ref and (not is_id_text(ref)) or len(ref) < MIN_ID_PREFIX:",
        "a reference that is not id text then reaches the prefix search, whose range "
        "[ref, ref + '~') holds only ids that start with it: none, so the same 'No trace "
        "matches' line",
    ),
    "wasmcli.store.traces.xǁTraceStoreǁsave_many__mutmut_2": Equivalent(
        "if len({trace.trace_id for trace in traces}) <= len(traces):",
        "the group is then always searched for repeated ids: the same traces are kept, only slower",
    ),
    "wasmcli.store.traces.xǁTraceStoreǁsave_many__mutmut_31": Equivalent(
        "rows = [_row(seq, trace) for seq, trace in enumerate(traces, start=newest + 2)]",
        "a gap in `seq`, which only orders rows and joins a trace to its events",
    ),
    "wasmcli.store.traces.xǁTraceStoreǁ_prune__mutmut_9": Equivalent(
        "if excess >= 0:",
        "with no excess it deletes `LIMIT 0` rows: nothing, as when it is skipped",
    ),
    **{
        f"wasmcli.store.traces.xǁTraceStoreǁtotals__mutmut_{n}": Equivalent(
            f"return (int(row[0]), int(row[1])) if {test} else {other}",
            "the totals row always exists: m002 inserts it, and `doctor --fix` rewrites "
            "it in the same transaction that deletes it",
        )
        for n, test, other in (
            (7, "row or True", "(0, 0)"),
            (12, "row", "(1, 0)"),
            (13, "row", "(0, 1)"),
        )
    },
    # -- runtime
    "wasmcli.runtime.output.xǁOutputCollectorǁadd__mutmut_4": Equivalent(
        "line = raw.decode('UTF-8')",
        "Python's codec names do not depend on case",
    ),
    **{
        f"wasmcli.runtime.session.xǁ_Sessionǁcall_process__mutmut_{n}": Equivalent(
            f"raise WasmcliError(ErrorKind.ABI, '{text}')",
            "the ABI check refuses a `process` without an i32 result before any call, on "
            "both engines: a call that returns nothing never happens",
        )
        for n, text in (
            (35, "XX`process` returned no value; expected an i32XX"),
            (36, "`PROCESS` RETURNED NO VALUE; EXPECTED AN I32"),
        )
    },
    **{
        f"wasmcli.cli.errors.x_exit_code_for__mutmut_{n}": Equivalent(
            f"traceback.print_exception({first}, exc, exc.__traceback__)",
            "given the exception and its traceback, Python 3.10+ ignores the first argument",
        )
        for n, first in ((24, "None"), (30, "type(None)"))
    },
    # -- store/registry
    "wasmcli.store.registry.xǁRegistryǁregister__mutmut_73": Equivalent(
        "elif name is not None or holder != binary_id:",
        "with no name the UPDATE that follows is `WHERE name = NULL`, which matches no row",
    ),
    "wasmcli.store.registry.xǁRegistryǁremove__mutmut_13": Equivalent(
        "record = self.get(by_name['binary_id']) if by_name and False else self.find(ref)",
        "`find` looks the name up first, with the same query, and finds the same binary",
    ),
    "wasmcli.store.registry.xǁRegistryǁfind__mutmut_15": Equivalent(
        "ref_id = ref.upper()",
        "the exact lookup then misses, but the prefix search (`prefix_range` lowers the "
        "case) finds the same binary, and a miss names `ref` as given either way",
    ),
    "wasmcli.store.registry.xǁRegistryǁremove__mutmut_17": Equivalent(
        "record = self.get(by_name['BINARY_ID']) if by_name else self.find(ref)", _ROW_KEYS
    ),
    "wasmcli.store.registry.xǁRegistryǁfind__mutmut_16": Equivalent(
        "exact = None",
        "without the exact lookup, the prefix search finds a full id (all ids have one "
        "length, so a full id is the prefix of no other): only the query differs",
    ),
    # -- engines/epoch
    "wasmcli.engines.epoch.xǁRunǁexpired__mutmut_1": Equivalent(
        "return time.monotonic() > self.deadline", _SAME_NANOSECOND
    ),
    "wasmcli.engines.epoch.xǁRunǁshould_stop__mutmut_3": Equivalent(
        "if time.monotonic() > self.deadline:", _SAME_NANOSECOND
    ),
    "wasmcli.engines.epoch.xǁTickerǁattach__mutmut_10": Equivalent(
        "self._thread = threading.Thread(target=self._tick_forever, name=None, daemon=True)",
        _THREAD_NAME,
    ),
    "wasmcli.engines.epoch.xǁTickerǁattach__mutmut_13": Equivalent(
        "self._thread = threading.Thread(target=self._tick_forever, daemon=True)", _THREAD_NAME
    ),
    "wasmcli.engines.epoch.xǁTickerǁattach__mutmut_15": Equivalent(
        "self._thread = threading.Thread(target=self._tick_forever, name='XXwasmcli-epochXX', "
        "daemon=True)",
        _THREAD_NAME,
    ),
    "wasmcli.engines.epoch.xǁTickerǁattach__mutmut_16": Equivalent(
        "self._thread = threading.Thread(target=self._tick_forever, name='WASMCLI-EPOCH', "
        "daemon=True)",
        _THREAD_NAME,
    ),
    # -- engines/base
    "wasmcli.engines.base.xǁEngineǁcache_config__mutmut_8": Equivalent(
        "return 'XX XX'.join([self.name, self.version, *settings])",
        "the separator of the configuration string only has to be the same in every key: "
        "artifacts cached before are compiled again, as after any upgrade",
    ),
    "wasmcli.engines.base.xǁEngineǁpreload__mutmut_43": Equivalent(
        "_PRELOADED.put(self.name, wasm, settings, LoadedModule(native, False, wasm))",
        "`_LoadedModules.get` hands every module it keeps out as loaded from the cache: the "
        "flag stored with it is never read",
    ),
    # -- wasm/metering
    "wasmcli.wasm.metering.x__scan__mutmut_6": Equivalent(
        "inserts: list[Insert] = [(p, _LOAD, 1, 0, False), (p, _CHECK, 0, 0, False)]",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_7": Equivalent(
        "inserts: list[Insert] = [(p, _LOAD, 0, 1, False), (p, _CHECK, 0, 0, False)]",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_8": Equivalent(
        "inserts: list[Insert] = [(p, _LOAD, 0, 0, True), (p, _CHECK, 0, 0, False)]",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_9": Equivalent(
        "inserts: list[Insert] = [(p, _LOAD, 0, 0, False), (p, _CHECK, 1, 0, False)]",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_10": Equivalent(
        "inserts: list[Insert] = [(p, _LOAD, 0, 0, False), (p, _CHECK, 0, 1, False)]",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_11": Equivalent(
        "inserts: list[Insert] = [(p, _LOAD, 0, 0, False), (p, _CHECK, 0, 0, True)]",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_13": Equivalent(
        "inserts.append((p, _ENTRY, 1, entry_cost, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_14": Equivalent(
        "inserts.append((p, _ENTRY, 0, entry_cost, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_59": Equivalent(
        "inserts.append((ins, _CHARGE, 1, cost, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_60": Equivalent(
        "inserts.append((ins, _CHARGE, 0, cost, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_62": Equivalent(
        "inserts.append((call_at, _EVENT, 1, _SAVE, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_63": Equivalent(
        "inserts.append((call_at, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_65": Equivalent(
        "inserts.append((p, _LOAD, 1, 0, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_66": Equivalent(
        "inserts.append((p, _LOAD, 0, 1, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_67": Equivalent(
        "inserts.append((p, _LOAD, 0, 0, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_31": Equivalent(
        "self.inserts.append((after, _CHECK, 1, 0, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_32": Equivalent(
        "self.inserts.append((after, _CHECK, 0, 1, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_33": Equivalent(
        "self.inserts.append((after, _CHECK, 0, 0, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_43": Equivalent(
        "self.inserts.append((after, _AFTER, self.seq - 1, event, is64))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_44": Equivalent(
        "self.inserts.append((after, _AFTER, self.seq + 2, event, is64))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_45": Equivalent(
        "self.seq = 2",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_46": Equivalent(
        "self.seq -= 2",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁcharge__mutmut_47": Equivalent(
        "self.seq += 3",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_31": Equivalent(
        "const_start = const_end = +1",
        _NO_CONSTANT_YET,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_32": Equivalent(
        "const_start = const_end = -2",
        _NO_CONSTANT_YET,
    ),
    "wasmcli.wasm.metering.x__other__mutmut_8": Equivalent(
        "return (p + 5, cost + 1, True)",
        _SPLIT_BLOCK,
    ),
    "wasmcli.wasm.metering.x__other__mutmut_14": Equivalent(
        "return (p + 9, cost + 1, True)",
        _SPLIT_BLOCK,
    ),
    "wasmcli.wasm.metering.x__other__mutmut_43": Equivalent(
        "return (p, cost + 1, True)",
        _SPLIT_BLOCK,
    ),
    "wasmcli.wasm.metering.x__other__mutmut_124": Equivalent(
        "return (p, cost, True)",
        _SPLIT_BLOCK,
    ),
    "wasmcli.wasm.metering.x__other__mutmut_138": Equivalent(
        "return (_skip_prefixed(body, start, where, file_offset), cost + 1, True)",
        _SPLIT_BLOCK,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_145": Equivalent(
        "inserts.append((ins, _CHARGE, 1, cost, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_146": Equivalent(
        "inserts.append((ins, _CHARGE, 0, cost, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_148": Equivalent(
        "inserts.append((start, _EVENT, 1, _SAVE, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_149": Equivalent(
        "inserts.append((start, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_194": Equivalent(
        "inserts.append((p, _CHECK, 1, 0, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_195": Equivalent(
        "inserts.append((p, _CHECK, 0, 1, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_196": Equivalent(
        "inserts.append((p, _CHECK, 0, 0, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.xǁ_Dynamicǁ__init____mutmut_6": Equivalent(
        "self.seq = 1",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__const_charge_ok__mutmut_6": Equivalent(
        "return True",
        _OPERAND_TYPE,
    ),
    "wasmcli.wasm.metering.x__const_delta__mutmut_7": Equivalent(
        "return o.const_value(body, const_start) & "
        "(18446744073709551615 if is64 or True else 4294967295)",
        _MASK_32,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_143": Equivalent(
        "if reachable or cost:",
        _DEAD_OR_ZERO_CHARGE,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_165": Equivalent(
        "if 65 <= b < 128 and b != 99 and (b != 100):",
        _FAST_PATH,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_166": Equivalent(
        "if 64 < b < 128 and b != 99 and (b != 100):",
        _FAST_PATH,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_222": Equivalent(
        "inserts.append((start, _EVENT, 1, _SAVE, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_223": Equivalent(
        "inserts.append((start, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_219": Equivalent(
        "if depth == len(frames) or reachable:",
        _EXTRA_SAVE,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_240": Equivalent(
        "returns = True",
        _EXTRA_SAVE,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_255": Equivalent(
        "inserts.append((start, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_271": Equivalent(
        "inserts.append((start, _EVENT, 1, _SAVE, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_272": Equivalent(
        "inserts.append((start, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_296": Equivalent(
        "inserts.append((start, _EVENT, 1, _SAVE, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_297": Equivalent(
        "inserts.append((start, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_317": Equivalent(
        "inserts.append((start, _EVENT, 1, _SAVE, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_318": Equivalent(
        "inserts.append((start, _EVENT, 0, _SAVE, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_320": Equivalent(
        "inserts.append((p, _LOAD, 1, 0, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_321": Equivalent(
        "inserts.append((p, _LOAD, 0, 1, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_322": Equivalent(
        "inserts.append((p, _LOAD, 0, 0, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_252": Equivalent(
        "if returns or reachable:",
        _EXTRA_SAVE,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_268": Equivalent(
        "if k == o.RETURN or reachable:",
        _EXTRA_SAVE,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_346": Equivalent(
        "if reachable or cost:",
        _DEAD_OR_ZERO_CHARGE,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_348": Equivalent(
        "inserts.append((ins, _CHARGE, 1, cost, False))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.metering.x__scan__mutmut_349": Equivalent(
        "inserts.append((ins, _CHARGE, 0, cost, True))",
        _UNUSED_FIELD,
    ),
    "wasmcli.wasm.fuel.xǁFuelǁapply__mutmut_86": Equivalent(
        "metered = meter_function(body, 0, len(body), 1, ctx, wrapper, 1 + startup.cost)",
        "the start wrapper takes no parameter and runs no run-time-sized operation: counted "
        "with one, its count moves to its second i64 temp, which exists and nothing else uses",
    ),
    # -- wasm/memory_limit
    "wasmcli.wasm.memory_limit.xǁResourceLimitǁkey__mutmut_1": Equivalent(
        "return ('XXresource-limitXX', self.limit_bytes)", _PASS_NAME
    ),
    "wasmcli.wasm.memory_limit.xǁResourceLimitǁkey__mutmut_2": Equivalent(
        "return ('RESOURCE-LIMIT', self.limit_bytes)", _PASS_NAME
    ),
    "wasmcli.store.registry.xǁRegistryǁfind__mutmut_52": Equivalent(
        "if len(rows) >= 1:",
        "just after `if len(rows) == 1: return`, so `>= 1` and `> 1` agree",
    ),
}
