-- Rate limits (GCRA) with the theoretical arrival time in microseconds since the epoch, so that a
-- quota of more than one request per millisecond keeps its rate. A row whose `tat_us` is not after
-- now is equivalent to no row.
--
-- A table of its own rather than a new unit in `rate_limits`: a node of the previous release,
-- still running during a rolling upgrade, goes on reading milliseconds there, and neither release
-- misreads the other's numbers (a microsecond TAT read as milliseconds would lock its key for
-- centuries). This release no longer writes `rate_limits`; its purge still removes the old rows as
-- they expire, and a later release drops the table.
CREATE TABLE rate_limits_us (
    key    text   COLLATE "C" NOT NULL PRIMARY KEY,
    tat_us bigint NOT NULL
);
