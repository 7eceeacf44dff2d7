-- GCRA steps on several keys in one atomic step: in order, stopping at the first that is limited;
-- the ones before it stay charged, it and those after it are untouched.
--
-- KEYS[1..n]  the theoretical arrival times (strings)   <prefix>:rate:{<prefix>}:<hash(key)>
-- ARGV[1]     now, ms since the epoch
-- ARGV[2..]   the emission interval T and the period P in microseconds of each key, in the order of KEYS
--
-- Returns {1, 0} when all allowed, {0, retry_after_ms} when one is limited.

local wait = gcra_all(1, #KEYS, 2, tonumber(ARGV[1]))
if wait > 0 then
  return {0, wait}
end
return {1, 0}
