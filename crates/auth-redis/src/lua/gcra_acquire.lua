-- One GCRA step, the same arithmetic as auth_core::rate::gcra: with emission interval T and
-- period P, a request at `now` is allowed when max(TAT, now) + T - P <= now, and then TAT moves to
-- max(TAT, now) + T and is kept for (new TAT - now) ms, after which it is equivalent to absent.
--
-- KEYS[1]  the theoretical arrival time (string, ms since the epoch)   <prefix>:gcra:{<key>}
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the emission interval T in ms (at least 1)
-- ARGV[3]  the period P in ms (at least 1)
--
-- Returns {1, 0} when allowed, {0, retry_after_ms} when limited (nothing changes then).
-- Numbers are written with %d: Lua would print large ones in exponent form.

local now, interval, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local t = tonumber(stored)
  if not t then
    return redis.error_reply('CORRUPT rate-limit state is not a number')
  end
  if t > now then
    tat = t
  end
end

local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at <= now then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', new_tat - now))
  return {1, 0}
end
return {0, allow_at - now}
