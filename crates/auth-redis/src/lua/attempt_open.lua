-- Opens an attempt: takes the send limits and, only if every one allows, stores the new attempt
-- and, for a resend, supersedes the attempt it replaces, in one atomic step. No other attempt is
-- touched: several attempts of one address and purpose may be active at once.
--
-- KEYS[1..n]  the send limits' theoretical arrival times   <prefix>:rate:{<prefix>}:<hash(key)>
-- KEYS[n+1]   the new attempt (hash)                       <prefix>:attempt:{<prefix>}:<id>
-- KEYS[n+2]   optional: the replaced attempt (hash)
-- ARGV[1]     now, ms since the epoch
-- ARGV[2]     n, the number of limits (0 for none)
-- ARGV[3..2+2n]  the emission interval and period in microseconds of each limit, in the order of KEYS
-- ARGV[3+2n]  time to live of the new attempt, in ms
-- ARGV[4+2n..] field, value, field, value, ... of the new attempt
--
-- Returns {0, retry_after_ms} when a limit refused (the ones before it stay charged, nothing is
-- stored), else {1, superseded}: 1 if an active attempt was superseded, else 0.

local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = gcra_all(1, n, 3, now)
if wait > 0 then
  return {0, wait}
end

local new, old = KEYS[n + 1], KEYS[n + 2]
local superseded = 0
if old and redis.call('HGET', old, 'state') == 'active' then
  redis.call('HSET', old, 'state', 'superseded')
  superseded = 1
end

redis.call('DEL', new)
redis.call('HSET', new, unpack(ARGV, 4 + 2 * n))
redis.call('PEXPIRE', new, ARGV[3 + 2 * n])
return {1, superseded}
