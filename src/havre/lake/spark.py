"""The Spark engine: the pipelines' DuckDB SQL, transpiled (``havre.lake.sqlrules``), on Spark.

One SparkSession per process (it takes seconds to start); each engine works in a child session
of its own (``newSession``: its own temporary views and SQL settings, the same JVM and cache).
Data crosses as Arrow both ways. Lake files are read by Spark itself, decrypting in the JVM:
parquet-java's ``PropertiesDrivenCryptoFactory`` with a KMS client of ours (``jvm/
KeyListKms.java``, compiled on first use) given the data keys of the versions this engine
reads, and nothing else. Other Arrow data (tables, streams, in-memory datasets) is handed to
Spark as Arrow, in memory; what Spark itself shuffles or spills to its local dirs is
encrypted (``spark.io.encryption.enabled``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from havre.core.config import Settings
from havre.core.errors import DataValidationError, EngineError
from havre.keys.parquet import key_identifier, parse_identifier
from havre.lake.engine import BATCH_ROWS, Lines
from havre.lake.spark_lines import glob_escaped, java_reason
from havre.lake.sqlrules import StatementKind, to_spark, translate
from havre.lake.textfiles import ProgressCallback

if TYPE_CHECKING:
    import pyarrow.dataset as ds
    from pyspark.sql import DataFrame, SparkSession

    from havre.keys.base import KeyStore
    from havre.lake.spark_lines import SparkLines

log = logging.getLogger(__name__)

KMS_SOURCE = Path(__file__).parent / "jvm" / "KeyListKms.java"
KMS_CLASS = "havre.spark.KeyListKms"
CRYPTO_FACTORY = "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"
KEY_LIST = "parquet.encryption.key.list"
TOKEN_SETTING = "parquet.encryption.key.access.token"  # noqa: S105 - a cache name, not a secret
ENCRYPTED_MAGIC = b"PARE"  # a Parquet file with an encrypted footer starts with it
MASTER_KEY = re.compile(rb'"masterKeyID"\s*:\s*"([^"]+)"')
DRIVER_MEMORY = "4g"  # the driver collects results as Arrow; a cluster sizes it in its own conf
# the key list is a secret: keep it out of the UI, logs and event files
REDACTION = r"(?i)secret|password|token|access[.]?key|parquet[.]encryption[.]key[.]list"

_lock = threading.Lock()
_session: SparkSession | None = None


def local_cores(master: str) -> int | None:
    """Cores of a ``local[n]`` master (``local[*]``: this machine's); None for a cluster."""
    match = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    if match is None:
        return None
    given = match.group(1)
    if given is None:
        return 1
    return os.cpu_count() or 1 if given == "*" else int(given)


def shuffle_partitions(master: str) -> int:
    # a few tasks per core keeps the cores busy; AQE coalesces small shuffles on clusters
    cores = local_cores(master)
    return 200 if cores is None else max(2, 2 * cores)


def kms_jar(settings: Settings) -> Path:
    """The KMS client's jar, compiled from its source once per source version."""
    source = KMS_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    folder = settings.home / "tmp" / "spark" / "jvm"
    jar = folder / f"havre-kms-{digest}.jar"
    if jar.exists():
        return jar
    javac = shutil.which("javac")
    if javac is None:
        raise EngineError(
            "The Spark engine needs javac (a JDK 17) to build its Parquet key client.",
            hint="install a JDK (Debian: openjdk-17-jdk-headless)",
        )
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    classpath = os.pathsep.join(
        str(p) for p in sorted(jars.glob("*.jar")) if p.name.startswith(("parquet-", "hadoop-"))
    )
    work = folder / f"build-{digest}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "classes").mkdir(parents=True, mode=0o700)
    result = subprocess.run(
        [javac, "--release", "17", "-cp", classpath, "-d", str(work / "classes"), str(KMS_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise EngineError(f"Building the Spark Parquet key client failed: {result.stderr[-2000:]}")
    partial = work / jar.name
    with zipfile.ZipFile(partial, "w") as archive:
        for item in sorted((work / "classes").rglob("*.class")):
            archive.write(item, item.relative_to(work / "classes").as_posix())
    os.replace(partial, jar)  # atomic: a concurrent builder finds a whole jar or none
    shutil.rmtree(work, ignore_errors=True)
    return jar


def spark_session(settings: Settings) -> SparkSession:
    """The process's SparkSession, started on first use with the settings' master."""
    global _session
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            return _session
        # PySpark logs each failed query with its plan; the engine raises a short EngineError
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if local_cores(settings.spark_master) is not None:
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # listen on loopback only
        from pyspark.sql import SparkSession

        temp = settings.home / "tmp" / "spark"
        temp.mkdir(parents=True, exist_ok=True, mode=0o700)
        jar = kms_jar(settings)
        master = settings.spark_master
        java_options = f"-Djava.io.tmpdir={temp} -Dlog4j2.level=ERROR"
        builder = (
            SparkSession.builder.master(master)
            .appName("havre")
            .config("spark.local.dir", str(temp))
            .config("spark.driver.extraJavaOptions", java_options)
            .config("spark.executor.extraJavaOptions", java_options)
            .config("spark.jars", str(jar))
            .config("spark.driver.extraClassPath", str(jar))
            .config("spark.ui.enabled", "false")
            .config("spark.log.level", "ERROR")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.redaction.regex", REDACTION)
            # shuffle and spill files hold decrypted rows: encrypted with a key of the run
            .config("spark.io.encryption.enabled", "true")
            .config("spark.sql.warehouse.dir", str(temp / "warehouse"))
            .config("spark.driver.memory", DRIVER_MEMORY)
        )
        for key, value in session_settings(master).items():
            if key.startswith("spark."):  # the parquet.* ones are set on each child session
                builder = builder.config(key, value)
        try:
            _session = builder.getOrCreate()
        except Exception as exc:
            raise EngineError(
                f"Spark did not start ({type(exc).__name__}: {exc}).",
                hint="check Java 17 and the spark_master setting",
            ) from None
        _session.sparkContext.setLogLevel("ERROR")
        return _session


def session_settings(master: str) -> dict[str, str]:
    """SQL settings of every child session (a child starts from the defaults)."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.shuffle.partitions": str(shuffle_partitions(master)),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.sql.adaptive.enabled": "true",
        # no join is broadcast on a size estimate: the estimates of cached and encrypted
        # relations ran far below their size in memory, and at 1M persons a broadcast of one
        # ran the driver out of memory; sort-merge joins hold at any size
        "spark.sql.autoBroadcastJoinThreshold": "-1",
        "spark.sql.adaptive.autoBroadcastJoinThreshold": "-1",
        "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
        "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
        "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
        "parquet.crypto.factory.class": CRYPTO_FACTORY,
        "parquet.encryption.kms.client.class": KMS_CLASS,
    }


def stop_session() -> None:
    """Stop the process's session (tests and benchmarks that switch masters)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


def encrypted_key_of(path: Path) -> str | None:
    """The master key identifier a Parquet file's footer is wrapped under (None: plaintext).

    The footer's key metadata is stored in the clear (it names the key, it is not the key);
    reading it lets the engine hand Spark exactly the keys a file needs."""
    with path.open("rb") as handle:
        if handle.read(4) != ENCRYPTED_MAGIC:
            return None
        handle.seek(-8, os.SEEK_END)
        tail = handle.read(8)
        length = int.from_bytes(tail[:4], "little")
        handle.seek(-8 - length, os.SEEK_END)
        footer = handle.read(min(length, 64 * 1024))
    found = MASTER_KEY.search(footer)
    if found is None:
        raise EngineError(f"{path}: encrypted Parquet whose footer names no master key.")
    return found.group(1).decode("utf-8")


# uint64 goes to int64: a value above 2^63 fails the cast loudly rather than wrapping
_SIGNED_HOLDING = {8: pa.int16(), 16: pa.int32(), 32: pa.int64(), 64: pa.int64()}


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """Types Spark takes from Arrow: dictionaries decoded, large strings made plain, unsigned
    integers widened to the signed type that holds them (Spark has no unsigned types)."""
    fields = []
    for field in schema:
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        if pa.types.is_large_binary(kind):
            kind = pa.binary()
        if pa.types.is_unsigned_integer(kind):
            kind = _SIGNED_HOLDING[kind.bit_width]
        fields.append(pa.field(field.name, kind, field.nullable))
    return pa.schema(fields)


def _plain_arrow(table: pa.Table) -> pa.Table:
    schema = plain_schema(table.schema)
    return table if schema == table.schema else table.cast(schema)


class SparkEngine:
    """The ``Engine`` protocol on Spark. ``keys``: the key store holding the data keys of the
    encrypted lake files registered here (None: plaintext files only)."""

    name = "spark"

    def __init__(self, settings: Settings, *, keys: KeyStore | None = None, **_: Any) -> None:
        self.settings = settings
        self.keys = keys
        self.session = spark_session(settings).newSession()
        for key, value in session_settings(settings.spark_master).items():
            self.session.conf.set(key, value)
        self._granted: dict[str, str] = {}  # key identifier -> base64 key
        self._tokens: list[str] = []  # parquet-java cache tokens used by this engine
        self._views: dict[str, DataFrame] = {}
        self._lines: dict[str, SparkLines] = {}
        self._closed = False

    # -- data in ----------------------------------------------------------------------------
    def register(self, name: str, data: pa.Table | pa.RecordBatchReader | ds.Dataset) -> None:
        import pyarrow.dataset as ds  # on use: importing it loads pandas (~0.2 s of every start)

        if isinstance(data, ds.FileSystemDataset) and isinstance(data.format, ds.ParquetFileFormat):
            frame = self._read_parquet([Path(f) for f in data.files], data.schema)
        elif isinstance(data, ds.Dataset):
            frame = self._from_arrow(data.to_table())
        elif isinstance(data, pa.RecordBatchReader):
            frame = self._from_arrow(data.read_all())
        else:
            frame = self._from_arrow(data)
        self._view(name, frame)

    def register_lines(
        self,
        name: str,
        path: Path,
        *,
        crlf: bool,
        progress: ProgressCallback | None = None,
        shape: str | None = None,
    ) -> Lines:
        """The file read by the executors (``havre.lake.spark_lines``), kept by them until
        ``unregister``. ``progress`` hears of the whole file once it is read. ``shape`` is
        left to the statements (the lines are not ``shaped``)."""
        from havre.lake.spark_lines import read_lines

        lines = read_lines(self.session, path, crlf=crlf)
        self._view(name, lines.frame)
        self._lines[name.lower()] = lines
        if progress is not None:
            progress(path.stat().st_size)
        return lines

    def register_parquet_rows(self, name: str, path: Path) -> None:
        """The file read by the executors; ``file_row_number`` is Parquet's own row index
        (``_metadata.row_index``), not a count that depends on how the file is split."""
        from pyspark.sql import functions

        try:
            frame = self.session.read.parquet(glob_escaped(path))
            numbered = frame.select(
                "*", functions.col("_metadata.row_index").alias("file_row_number")
            )
        except Exception as exc:
            raise DataValidationError(f"{path.name}: read failed ({java_reason(exc)}).") from None
        self._view(name, numbered)

    def unregister(self, name: str) -> None:
        self._drop(name)
        lines = self._lines.pop(name.lower(), None)
        if lines is not None:
            lines.release()

    def register_parquet(self, name: str, paths: list[Path]) -> None:
        """Parquet files (plain or encrypted under keys of ``keys``) as a relation."""
        self._view(name, self._read_parquet(paths, None))

    def _from_arrow(self, table: pa.Table) -> DataFrame:
        try:
            return self.session.createDataFrame(_plain_arrow(table))
        except Exception as exc:
            raise EngineError(f"Spark could not take the Arrow data: {exc}") from None

    def _read_parquet(self, paths: list[Path], schema: pa.Schema | None) -> DataFrame:
        if not paths:
            if schema is None:
                raise EngineError("No Parquet file to read.")
            return self._from_arrow(schema.empty_table())
        for path in paths:
            identifier = encrypted_key_of(path)
            if identifier is not None:
                self._grant(identifier, path)
        try:
            frame = self.session.read.parquet(*(str(p) for p in paths))
        except Exception as exc:
            raise EngineError(
                f"Spark could not read {paths[0].parent}: {java_reason(exc)}"
            ) from None
        if schema is not None:
            frame = frame.select(*(f"`{n}`" for n in schema.names))
        return frame

    def _grant(self, identifier: str, path: Path) -> None:
        if identifier in self._granted:
            return
        if self.keys is None:
            raise EngineError(
                f"{path} is encrypted under {identifier}, and this Spark engine has no key store.",
                hint="open the engine with open_engine(settings, keys=<the hub's key store>)",
            )
        name, version = parse_identifier(identifier)
        key, used = self.keys.data_key(name, version)
        self._give(key_identifier(name, used), key)

    def _give(self, identifier: str, key: bytes) -> None:
        """Add a data key to this session's key list. parquet-java caches its KMS clients (and
        the keys they unwrapped) per access token: a fresh token for every new list makes it
        build a client that sees the whole list, and lets ``close`` drop those caches."""
        self._granted[identifier] = base64.b64encode(key).decode("ascii")
        self.session.conf.set(
            KEY_LIST, ",".join(f"{k}:{v}" for k, v in sorted(self._granted.items()))
        )
        token = f"havre-{secrets.token_hex(16)}"
        self._tokens.append(token)
        self.session.conf.set(TOKEN_SETTING, token)

    def _view(self, name: str, frame: DataFrame) -> None:
        previous = self._views.get(name.lower())
        if previous is not None and previous is not frame:
            _release(previous)
        frame.createOrReplaceTempView(name)
        self._views[name.lower()] = frame

    # -- queries ----------------------------------------------------------------------------
    def _run(self, spark_sql: str) -> DataFrame:
        try:
            return self.session.sql(spark_sql)
        except Exception as exc:
            raise EngineError(f"Spark failed: {java_reason(exc)}") from None

    def _arrow(self, frame: DataFrame) -> pa.Table:
        try:
            table: pa.Table = frame.toArrow()
        except Exception as exc:
            raise EngineError(f"Spark failed: {java_reason(exc)}") from None
        return table

    def sql(self, query: str) -> pa.Table:
        return self._arrow(self._run(to_spark(query)))

    def batches(self, query: str, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """The result one partition at a time (Arrow C stream): the driver never holds more
        than a partition of it. ``batch_rows`` is the engine's
        ``spark.sql.execution.arrow.maxRecordsPerBatch`` here, not a parameter."""
        frame = self._run(to_spark(query))
        try:
            return pa.RecordBatchReader.from_stream(frame)
        except Exception as exc:
            raise EngineError(f"Spark failed: {java_reason(exc)}") from None

    def scalar(self, query: str) -> Any:
        table = self.sql(query)
        return table.column(0)[0].as_py() if table.num_rows else None

    def execute(self, statement: str) -> None:
        translated = translate(statement)
        table = translated.table
        if translated.kind is StatementKind.CREATE_TEMP and translated.if_exists:
            assert table is not None
            if table.lower() in self._views:
                return
        if translated.kind in (StatementKind.CREATE_TEMP, StatementKind.DELETE):
            assert table is not None
            frame = _stored(self._run(translated.sql))
            self._drop(table)
            self._view(table, frame)
        elif translated.kind is StatementKind.INSERT:
            assert table is not None
            self._view(table, self._appended(self._table(table), self._run(translated.sql)))
        elif translated.kind is StatementKind.DROP_COLUMN:
            assert table is not None and translated.column is not None
            frame = self._table(table)
            if translated.column.lower() not in (c.lower() for c in frame.columns):
                if translated.if_exists:
                    return
                raise EngineError(f"Spark failed: {table} has no column {translated.column}.")
            self._view(table, _stored(frame.drop(translated.column)))
        elif translated.kind is StatementKind.DROP:
            assert table is not None
            if table.lower() not in self._views and not translated.if_exists:
                raise EngineError(f"Spark failed: no table {table} to drop.")
            self._drop(table)
        else:
            self._run(translated.sql).collect()

    def _table(self, name: str) -> DataFrame:
        frame = self._views.get(name.lower())
        if frame is None:
            raise EngineError(f"Spark failed: no table {name}.")
        return frame

    @staticmethod
    def _appended(table: DataFrame, rows: DataFrame) -> DataFrame:
        """``INSERT INTO``: rows matched to the table's columns by position, cast to their
        types (as DuckDB does), then the whole stored again (before the old rows go)."""
        if len(rows.columns) != len(table.columns):
            raise EngineError(
                f"Spark failed: {len(rows.columns)} values for {len(table.columns)} columns."
            )
        typed = rows.select(
            *(
                rows[given].cast(field.dataType).alias(field.name)
                for given, field in zip(rows.columns, table.schema.fields, strict=True)
            )
        )
        return _stored(table.union(typed))

    @contextlib.contextmanager
    def joins_as_written(self) -> Iterator[None]:
        """Nothing to change: Spark broadcasts no join side (``session_settings``); its
        sort-merge joins do not depend on size estimates, unlike DuckDB's hash joins."""
        yield

    def _drop(self, name: str) -> None:
        frame = self._views.pop(name.lower(), None)
        self.session.catalog.dropTempView(name)
        if frame is not None:
            _release(frame)

    # -- data out ---------------------------------------------------------------------------
    def write_parquet(
        self, query: str, folder: Path, key_name: str, *, rows_per_file: int | None = None
    ) -> None:
        """Write a query's result as Parquet encrypted under ``key_name`` (its active version),
        readable by ``havre.keys.parquet`` (pyarrow) and by this engine: a file per partition
        of the result (none for an empty one), at most ``rows_per_file`` rows a file."""
        if self.keys is None:
            raise EngineError("Writing encrypted Parquet needs the engine's key store.")
        key, version = self.keys.data_key(key_name)
        identifier = key_identifier(key_name, version)
        if identifier not in self._granted:
            self._give(identifier, key)
        frame = self._run(to_spark(query))
        try:
            frame = _nullable(frame)
            (
                frame.write.mode("errorifexists")
                .option("parquet.encryption.uniform.key", identifier)
                .option("parquet.encryption.double.wrapping", "true")
                .option("compression", "zstd")
                .option("maxRecordsPerFile", str(rows_per_file or 0))
                .parquet(str(folder))
            )
        except Exception as exc:
            raise EngineError(f"Spark could not write {folder}: {java_reason(exc)}") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for name in list(self._views):
            try:
                self.unregister(name)
            except Exception:  # the session may be gone already; its views died with it
                log.debug("temporary view %s not dropped", name)
        self._granted.clear()
        try:
            self.session.conf.unset(KEY_LIST)
            jvm: Any = self.session._jvm
            toolkit = jvm.org.apache.parquet.crypto.keytools.KeyToolkit
            for token in self._tokens:
                toolkit.removeCacheEntriesForToken(token)  # the unwrapped keys leave the JVM
        except Exception:
            log.debug("key caches not cleared")
        self._tokens.clear()


def _stored(frame: DataFrame) -> DataFrame:
    """A temporary table: computed now and kept by the executors (memory, then their
    encrypted local disks), its plan cut to a scan of what was kept. A lazy cache keeps the
    plan that made it, and each later plan holds all of those before it: over the ingest's
    long chain of tables, with its large CASE expressions of checks, Spark then spent up to
    80 s planning a statement (matching plans against the cache) for a second of work."""
    return frame.localCheckpoint(eager=True)


def _release(frame: DataFrame) -> None:
    """Free what a relation keeps: its stored rows (``_stored``: the blocks of the scanned
    RDD), or its cache."""
    with contextlib.suppress(Exception):  # the JVM's own cleaner frees them in the end
        plan = frame._jdf.queryExecution().analyzed()
        if plan.getClass().getSimpleName() == "LogicalRDD":
            plan.rdd().unpersist(False)
    frame.unpersist(blocking=False)


def _nullable(frame: DataFrame) -> DataFrame:
    """Every column nullable, as DuckDB and pyarrow write them: Spark writes a column NOT NULL
    when it proves it has no null (a constant, a column filtered on ``IS NOT NULL``), and a
    version's files would not share one schema. A condition Spark cannot fold (a partition's
    number is never negative) keeps each value as it is and the column nullable."""
    from pyspark.sql import functions

    always = functions.spark_partition_id() >= 0
    return frame.select(
        *(functions.when(always, functions.col(f"`{name}`")).alias(name) for name in frame.columns)
    )
