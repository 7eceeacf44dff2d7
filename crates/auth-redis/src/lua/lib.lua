-- Functions shared by the scripts: the adapter puts this file in front of each script that uses
-- them, so every script stays one self-contained EVALSHA. Data that makes no sense raises a
-- CORRUPT error. Numbers are written with %d: Lua would print large ones in exponent form.

-- One GCRA step, the same arithmetic as auth_core::rate::gcra: with emission interval T and
-- period P, a request at `now` is allowed when max(TAT, now) + T - P <= now, and then TAT moves to
-- max(TAT, now) + T and is kept for (new TAT - now), after which it is equivalent to absent.
-- `key` holds the TAT (string, microseconds since the epoch); `now` is in ms, T and P in
-- microseconds (all exact in Lua's doubles up to 2^53). Returns 0 when allowed, else the wait in
-- whole ms, rounded up (and nothing changes).
local function gcra(key, now_ms, interval, period)
  local now = now_ms * 1000
  local tat = now
  local stored = redis.call('GET', key)
  if stored then
    local t = tonumber(stored)
    if not t then
      error({err = 'CORRUPT rate-limit state is not a number'})
    end
    if t > now then
      tat = t
    end
  end
  local new_tat = tat + interval
  local allow_at = new_tat - period
  if allow_at <= now then
    local ttl = math.ceil((new_tat - now) / 1000)
    redis.call('SET', key, string.format('%d', new_tat), 'PX', string.format('%d', ttl))
    return 0
  end
  return math.ceil((allow_at - now) / 1000)
end

-- GCRA steps under KEYS[first .. first + n - 1], their interval and period in
-- ARGV[at], ARGV[at + 1] (microseconds), then the next pair, ...: in order, stopping at the first that is
-- limited (the ones before it stay charged). Returns 0 when all allowed, else that wait in ms.
local function gcra_all(first, n, at, now)
  for i = 0, n - 1 do
    local wait = gcra(KEYS[first + i], now, tonumber(ARGV[at + 2 * i]), tonumber(ARGV[at + 2 * i + 1]))
    if wait > 0 then
      return wait
    end
  end
  return 0
end

-- The failures under `key` (hash: count, last_at, window_ends), all three or none.
local function failures_of(key)
  local f = redis.call('HMGET', key, 'count', 'last_at', 'window_ends')
  local count, last_at, window_ends = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
  if (f[1] and not count) or (f[2] and not last_at) or (f[3] and not window_ends) then
    error({err = 'CORRUPT failure counters are not numbers'})
  end
  if (count or last_at or window_ends) and not (count and last_at and window_ends) then
    error({err = 'CORRUPT failure counters are incomplete'})
  end
  return count, last_at, window_ends
end

-- Records one failure at `now`. A key with no open window (none yet, or its window has ended at
-- `now`) starts one that ends `window` ms later; otherwise the count goes up within the window.
-- The key lives until its window ends, measured from `now` like every other time here.
-- Returns count, last_at, window_ends after counting it.
local function record_failure(key, now, window)
  local count, last_at, window_ends = failures_of(key)
  if window_ends and now < window_ends then
    count = redis.call('HINCRBY', key, 'count', 1)
    -- Nodes' clocks differ a little; the latest failure is the one that counts for backoff.
    if now > last_at then
      last_at = now
    end
  else
    redis.call('DEL', key)
    count = 1
    last_at = now
    window_ends = now + window
    redis.call('HSET', key, 'count', 1, 'window_ends', string.format('%d', window_ends))
  end
  redis.call('HSET', key, 'last_at', string.format('%d', last_at))
  redis.call('PEXPIRE', key, string.format('%d', math.max(window_ends - now, 1)))
  return count, last_at, window_ends
end

-- Takes one guess of the attempt under `key` (hash): only if it is active, unexpired at `now`
-- and has evaluated fewer than `max` guesses; then its count goes up by one. Returns whether it
-- was taken (nothing changes when not).
local function take_guess(key, now, max)
  if redis.call('EXISTS', key) == 0 then
    return false
  end
  local f = redis.call('HMGET', key, 'state', 'expires_at', 'guesses')
  local state, expires_at, guesses = f[1], tonumber(f[2]), tonumber(f[3])
  if not state or not expires_at or not guesses then
    error({err = 'CORRUPT attempt lacks state, expires_at or guesses'})
  end
  if state ~= 'active' or now >= expires_at or guesses >= max then
    return false
  end
  redis.call('HINCRBY', key, 'guesses', 1)
  return true
end

