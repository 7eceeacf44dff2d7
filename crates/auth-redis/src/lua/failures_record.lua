-- Records one failure at `now`. A key with no open window (none yet, or its window has ended at
-- `now`) starts one that ends `window` ms later; otherwise the count goes up within the window.
-- The key lives until its window ends, measured from `now` like every other time here.
--
-- KEYS[1]  the failures (hash: count, last_at, window_ends)   <prefix>:failures:{<key>}
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the window in ms
--
-- Returns {count, last_at, window_ends} after counting this failure. Fails with CORRUPT if the
-- stored fields make no sense.
-- Numbers are written with %d: Lua would print large ones in exponent form.

local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])

local f = redis.call('HMGET', KEYS[1], 'count', 'last_at', 'window_ends')
local count, last_at, window_ends = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
if (f[1] and not count) or (f[2] and not last_at) or (f[3] and not window_ends) then
  return redis.error_reply('CORRUPT failure counters are not numbers')
end

if window_ends and count and last_at and now < window_ends then
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
  -- Nodes' clocks differ a little; the latest failure is the one that counts for backoff.
  if now > last_at then
    last_at = now
  end
else
  redis.call('DEL', KEYS[1])
  count = 1
  last_at = now
  window_ends = now + window
  redis.call('HSET', KEYS[1], 'count', 1, 'window_ends', string.format('%d', window_ends))
end

redis.call('HSET', KEYS[1], 'last_at', string.format('%d', last_at))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(window_ends - now, 1)))
return {count, last_at, window_ends}
