-- Consumes an attempt: only if it is active and unexpired at `now`, so exactly one caller wins.
--
-- KEYS[1]  the attempt (hash)   <prefix>:attempt:{<prefix>}:<id>
-- ARGV[1]  now, ms since the epoch
--
-- Returns 1 if this call consumed it, else 0. Fails with CORRUPT if the fields make no sense.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end

local f = redis.call('HMGET', KEYS[1], 'state', 'expires_at')
local state, expires_at = f[1], tonumber(f[2])
if not state or not expires_at then
  return redis.error_reply('CORRUPT attempt lacks state or expires_at')
end

if state ~= 'active' or tonumber(ARGV[1]) >= expires_at then
  return 0
end

redis.call('HSET', KEYS[1], 'state', 'consumed')
return 1
