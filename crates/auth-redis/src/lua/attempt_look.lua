-- The first step of a guess: one GCRA step of the client's guess limit and, if allowed, the
-- attempt as it is.
--
-- KEYS[1]  the guess limit's theoretical arrival time   <prefix>:rate:{<prefix>}:<hash(key)>
-- KEYS[2]  the attempt (hash)                           <prefix>:attempt:{<prefix>}:<id>
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the emission interval T in microseconds
-- ARGV[3]  the period P in microseconds
--
-- Returns {0, retry_after_ms} when limited (nothing is read), else {1, fields}: every field of
-- the attempt as HGETALL gives them, none if it is unknown.

local wait = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
if wait > 0 then
  return {0, wait}
end
return {1, redis.call('HGETALL', KEYS[2])}
