"""Where job records live: beside the Huey queue, in its SQLite file or its Redis.

Each backend offers the same few operations. `write(job, expected, message)` stores `job` only
if the stored record is still at revision `expected` (a conditional UPDATE in SQLite, a Lua
script in Redis), and in the same atomic step puts `message` in Huey's queue (a job that becomes
queued), or drops the job's input and counts its outcome (a job that ends). `create` writes a
new record, its input and its message at once. Records are never deleted, so counts are exact.
The message goes where Huey's own enqueue puts it (its `task` table, its Redis list).
"""

from __future__ import annotations

import orjson
from huey.api import Huey
from huey.storage import RedisStorage, SqliteStorage

from .state import OUTCOMES, TERMINAL, StoredJob

RECENT = 1000  # job ids Redis lists for GET /train/jobs (SQLite keeps every record in order)


def _load(raw: bytes | str | None) -> StoredJob | None:
    return None if raw is None else StoredJob.model_validate_json(raw)


def _dump(job: StoredJob) -> bytes:
    return orjson.dumps(job.model_dump(mode="json"))


class SqliteRecords:
    """Records in a table of the queue's SQLite file; writes use huey's exclusive transaction."""

    DDL = (
        "create table if not exists nns_job (job_id text primary key, status text not null, "
        "rev integer not null, doc blob not null, input blob)",
        "create index if not exists nns_job_status on nns_job (status)",
    )

    def __init__(self, storage: SqliteStorage) -> None:
        self.storage = storage
        with storage.db(commit=True) as cursor:
            for statement in self.DDL:
                cursor.execute(statement)

    def _send(self, cursor, message: bytes | None) -> None:
        if message is not None:  # as SqliteStorage.enqueue does
            cursor.execute(
                "insert into task (queue, data, priority) values (?, ?, ?)",
                (self.storage.name, message, 0),
            )

    def create(self, job: StoredJob, data: bytes, message: bytes) -> None:
        with self.storage.db(commit=True) as cursor:
            cursor.execute(
                "insert into nns_job (job_id, status, rev, doc, input) values (?, ?, ?, ?, ?)",
                (job.job_id, job.status, job.rev, _dump(job), data),
            )
            self._send(cursor, message)

    def read(self, job_id: str) -> StoredJob | None:
        rows = self.storage.sql("select doc from nns_job where job_id = ?", (job_id,), results=True)
        return _load(rows[0][0]) if rows else None

    def write(self, job: StoredJob, expected: int, message: bytes | None = None) -> bool:
        ended = job.status in TERMINAL
        with self.storage.db(commit=True) as cursor:
            cursor.execute(
                "update nns_job set status = ?, rev = ?, doc = ?, "
                "input = case when ? then null else input end where job_id = ? and rev = ?",
                (job.status, job.rev, _dump(job), ended, job.job_id, expected),
            )
            if cursor.rowcount != 1:
                return False
            self._send(cursor, message)
            return True

    def input(self, job_id: str) -> bytes | None:
        rows = self.storage.sql(
            "select input from nns_job where job_id = ?", (job_id,), results=True
        )
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def open_jobs(self) -> list[StoredJob]:
        rows = self.storage.sql(
            "select doc from nns_job where status in ('queued', 'running')", results=True
        )
        return [_load(doc) for (doc,) in rows]

    def recent(self, limit: int) -> list[StoredJob]:
        """Return the last `limit` jobs submitted, newest first."""
        query = "select doc from nns_job order by rowid desc limit ?"
        return [_load(doc) for (doc,) in self.storage.sql(query, (limit,), results=True)]

    def counts(self) -> dict[str, int]:
        query = "select status, count(*) from nns_job group by status"
        by_status = dict(self.storage.sql(query, results=True))
        ended = {outcome: by_status.get(outcome, 0) for outcome in OUTCOMES[1:]}
        return {"queued": sum(by_status.values())} | ended


# KEYS: record hash, input, set of open jobs, counts hash, Huey's queue list, list of the
# latest job ids (RECENT of them, newest first). ARGV: expected
# rev ("" to create), new rev, job id, record JSON, outcome to count ("" if none), input ("" unless
# creating), message to queue ("" if none).
WRITE_LUA = """
local rev = redis.call('HGET', KEYS[1], 'rev')
if ARGV[1] == '' then
    if rev then return 0 end
    redis.call('SET', KEYS[2], ARGV[6])
    redis.call('HINCRBY', KEYS[4], 'queued', 1)
    redis.call('LPUSH', KEYS[6], ARGV[3])
    redis.call('LTRIM', KEYS[6], 0, ARGV[8] - 1)
elseif rev ~= ARGV[1] then
    return 0
end
redis.call('HSET', KEYS[1], 'rev', ARGV[2], 'doc', ARGV[4])
if ARGV[5] ~= '' then
    redis.call('SREM', KEYS[3], ARGV[3])
    redis.call('DEL', KEYS[2])
    redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
else
    redis.call('SADD', KEYS[3], ARGV[3])
end
if ARGV[7] ~= '' then
    redis.call('LPUSH', KEYS[5], ARGV[7])
end
return 1
"""


class RedisRecords:
    """Records in hashes of the queue's Redis; writes run as one Lua script."""

    def __init__(self, storage: RedisStorage, prefix: str) -> None:
        self.conn, self.prefix, self.queue_key = storage.conn, prefix, storage.queue_key
        self._write = self.conn.register_script(WRITE_LUA)

    def _keys(self, job_id: str) -> list[str]:
        job = f"{self.prefix}:job:{job_id}"
        return [job, f"{job}:input", f"{self.prefix}:jobs:open", f"{self.prefix}:jobs:count"]

    def _run(self, job: StoredJob, expected: str, data: bytes, message: bytes | None) -> bool:
        outcome = job.status if job.status in TERMINAL else ""
        argv = [expected, job.rev, job.job_id, _dump(job), outcome, data, message or b""]
        argv.append(RECENT)
        keys = [*self._keys(job.job_id), self.queue_key, f"{self.prefix}:jobs:recent"]
        return self._write(keys=keys, args=argv) == 1

    def create(self, job: StoredJob, data: bytes, message: bytes) -> None:
        if not self._run(job, "", data, message):
            raise RuntimeError(f"job {job.job_id} exists already")

    def read(self, job_id: str) -> StoredJob | None:
        return _load(self.conn.hget(self._keys(job_id)[0], "doc"))

    def write(self, job: StoredJob, expected: int, message: bytes | None = None) -> bool:
        return self._run(job, str(expected), b"", message)

    def input(self, job_id: str) -> bytes | None:
        return self.conn.get(self._keys(job_id)[1])

    def open_jobs(self) -> list[StoredJob]:
        ids = sorted(i.decode() for i in self.conn.smembers(f"{self.prefix}:jobs:open"))
        pipe = self.conn.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(self._keys(job_id)[0], "doc")
        return [job for job in map(_load, pipe.execute()) if job is not None]

    def recent(self, limit: int) -> list[StoredJob]:
        """Return the last `limit` jobs submitted (at most RECENT), newest first."""
        ids = self.conn.lrange(f"{self.prefix}:jobs:recent", 0, limit - 1)
        pipe = self.conn.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(self._keys(job_id.decode())[0], "doc")
        return [job for job in map(_load, pipe.execute()) if job is not None]

    def counts(self) -> dict[str, int]:
        stored = self.conn.hgetall(f"{self.prefix}:jobs:count")
        return {o: int(stored.get(o.encode(), 0)) for o in OUTCOMES}


def records_for(huey: Huey) -> SqliteRecords | RedisRecords:
    """Return the records beside this Huey queue; only SQLite and Redis queues are shared."""
    if isinstance(huey.storage, SqliteStorage):
        return SqliteRecords(huey.storage)
    if isinstance(huey.storage, RedisStorage):
        return RedisRecords(huey.storage, huey.name)
    raise TypeError(f"job records need a SQLite or Redis queue, not {type(huey.storage).__name__}")
