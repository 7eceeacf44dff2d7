-- Records one failure at `now` (see record_failure).
--
-- KEYS[1]  the failures (hash: count, last_at, window_ends)   <prefix>:failures:{<prefix>}:<hash(key)>
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the window in ms
--
-- Returns {count, last_at, window_ends} after counting this failure.

local count, last_at, window_ends = record_failure(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
return {count, last_at, window_ends}
